"""Settings of a control-plane server from ``SUANWANG_*`` environment variables.

``suanwang serve`` passes its options to the server process through these variables, so the
server reads its settings in exactly one way whether started by the command, by uvicorn or by a
test.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SUANWANG_"
"""Prefix of every setting's environment variable (``SUANWANG_DATABASE_URL``...)."""


class Settings(BaseSettings):
    """What a control-plane server is built from.

    Attributes:
        database_url: Database URL (``sqlite:///...``, ``postgresql://...``, ``memory://``);
            empty means the SQLite file ``suanwang.db`` in ``data_dir``.
        data_dir: Folder for the database, twin reports and the live scenario.
        host: Address to listen on.
        port: Port to listen on (0: any free port).
        scenario: Built-in name or scenario file loaded as the live topology at the first
            start (later starts reload the scenario last made live).
        profile: Scheduling profile: a built-in name or a YAML file.
        max_body_bytes: Largest request body accepted (larger ones get 413).
        max_batch: Most requests one group commit takes.
        token_cache_s: How long a verified token is trusted without asking the database again
            (bounds how late a revocation made outside this server takes effect).
        admin_tenant: Tenant of the first admin, created at the first start.
        suspect_after_s: Heartbeat age past which a node with an agent is suspected.
        down_after_s: Heartbeat age past which such a node is taken down and its tasks
            re-placed (0 turns self-healing off).
        health_tick_s: Interval of the health checks.
        tune_gc: Freeze the start-up heap out of the cyclic garbage collector and collect
            less often (process-wide; off where many servers share one process, as in tests).
        access_log: Log every request.
        log_format: ``text`` (uvicorn's lines) or ``json`` (one JSON object per line on
            stderr: ``ts``, ``level``, ``logger``, ``message`` and the record's extra fields).
        docs: The API documentation (``/docs``, ``/redoc``, ``/openapi.json``): ``public``
            (no token: the document describes an open-source API, and a browser cannot send a
            bearer header when it opens a page), ``token`` (any valid token) or ``off``.
        tls_cert: PEM certificate chain served over TLS; with ``tls_key``, or neither
            (plain HTTP).
        tls_key: PEM private key of ``tls_cert``.
        submit_rate_per_s: Task submissions per second each tenant may sustain (a token
            bucket per tenant; 0 turns the limit off).
        submit_burst: Submissions a tenant may make at once before the rate applies.
        require_agent: Place nothing on nodes no agent has bound a key for (state
            ``no-agent``): live mode has no other way to run work there.
        dispatch_timeout_s: A task published to its node and not pulled within this is taken
            back: placed again elsewhere when the node has no agent (the node becomes
            ``no-agent``), else failed with the reason (0: never).
        max_run_s: Longest a task may run on an agent before the agent stops it and reports
            it failed (0: no limit).
        max_run_s_by_tenant: Per-tenant maximum run times replacing ``max_run_s``, as JSON
            (``{"acme": 600}``).
        ledger_key: Ed25519 private key (PKCS#8 PEM, mode 0600) that signs the audit ledger's
            tree heads; default ``data_dir/ledger.key``, created at the first start.
        ledger_sync_s: Interval at which the server checkpoints new audit entries into the
            ledger and signs a head (0: no ledger sync).
        attest_interval_s: Mean seconds between two attestations of a node after the one at
            join (each jittered by ``attest_jitter`` either way; 0: only at join).
        attest_jitter: Share of ``attest_interval_s`` an interval varies by either way.
        attest_size: Side of the challenge's seeded square matrices.
        attest_trust_after: Consistent attestations in a row that make a node ``attested``.
        attest_tolerance: Least share of a node's claimed fp64 peak its measured rate must
            reach; below it the claim is inflated and the node quarantined.
        object_store: Where objects (task inputs, results, artefacts) are kept: empty for the
            folder ``data_dir/objects``, a folder path, or ``s3://BUCKET/PREFIX`` (with
            ``object_store_endpoint`` for an S3-compatible service; credentials as boto3
            reads them from the environment).
        object_store_endpoint: URL of the S3-compatible service (empty: AWS's own).
        max_object_bytes: Largest object (an upload over it gets 413 naming the limit).
        object_retention_s: Age after which objects expire (0: kept until deleted).
        series_period_s: Seconds between two samples of the server's time series
            (``GET /v1/series``; taken on the writer's tick, so at least about a second).
        series_samples: Samples of the time series kept (the oldest go first; at most 10,000:
            with the sites' series, 4 bytes per sample and site).
        market_period_s: Length of a billing period of the market (default 30 days).
        market_fee_rate: The platform's share of every lease settlement, in [0, 1).
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    database_url: str = ""
    data_dir: Path = Path(".suanwang")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    scenario: str = "metro-edge"
    profile: str = "cats-joint"
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_batch: int = Field(default=512, ge=1)
    token_cache_s: float = Field(default=2.0, ge=0.0)
    admin_tenant: str = "operator"
    suspect_after_s: float = Field(default=3.0, gt=0)
    down_after_s: float = Field(default=5.0, ge=0)
    health_tick_s: float = Field(default=0.25, gt=0)
    tune_gc: bool = True
    # Serving: the command line, access, transport security and per-tenant limits.
    access_log: bool = False
    log_format: Literal["text", "json"] = "text"
    docs: Literal["public", "token", "off"] = "public"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    submit_rate_per_s: float = Field(default=0.0, ge=0.0)
    submit_burst: int = Field(default=100, ge=1)
    # Agents: no-agent nodes, dispatch timeout and maximum run time of a task.
    require_agent: bool = True
    dispatch_timeout_s: float = Field(default=120.0, ge=0.0)
    max_run_s: float = Field(default=0.0, ge=0.0)
    max_run_s_by_tenant: dict[str, Annotated[float, Field(gt=0.0)]] = Field(default_factory=dict)
    # The audit ledger: its signing key and how often the server syncs it.
    ledger_key: Path | None = None
    ledger_sync_s: float = Field(default=5.0, ge=0.0)
    # Attestation: challenges to nodes' agents and how their answers are judged.
    attest_interval_s: float = Field(default=600.0, ge=0.0)
    attest_jitter: float = Field(default=0.5, ge=0.0, le=1.0)
    attest_size: int = Field(default=256, ge=8, le=4096)
    attest_trust_after: int = Field(default=3, ge=1)
    attest_tolerance: float = Field(default=0.1, ge=0.0, le=1.0)
    # Objects: where tasks' inputs, results and artefacts are kept, the size limit, retention.
    object_store: str = ""
    object_store_endpoint: str = ""
    max_object_bytes: int = Field(default=256 << 20, ge=1)
    object_retention_s: float = Field(default=7 * 24 * 3600.0, ge=0.0)
    # Time series: how often the server samples its counters, and how many samples it keeps.
    series_period_s: float = Field(default=5.0, gt=0.0)
    series_samples: int = Field(default=720, ge=1, le=10_000)
    # The market: billing periods and the platform's fee.
    market_period_s: float = Field(default=30 * 86_400.0, gt=0.0)
    market_fee_rate: Decimal = Field(default=Decimal("0.05"), ge=0, lt=1)

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both or neither")
        return self

    @property
    def scheme(self) -> str:
        """``https`` when TLS is configured, else ``http``."""
        return "https" if self.tls_cert is not None else "http"

    def to_environment(self) -> dict[str, str]:
        """Every set value as ``SUANWANG_*`` variables (what a server process reads back)."""
        values = self.model_dump(mode="json", exclude_none=True)
        return {f"{ENV_PREFIX}{name.upper()}": _text(value) for name, value in values.items()}

    def resolved_ledger_key(self) -> Path:
        """The ledger's signing key file, defaulting to ``data_dir/ledger.key``."""
        return self.ledger_key if self.ledger_key is not None else self.data_dir / "ledger.key"

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to ``data_dir/suanwang.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir.resolve() / 'suanwang.db').as_posix()}"


def _text(value: object) -> str:
    # What pydantic-settings reads back: JSON for booleans and containers, else the plain text.
    if isinstance(value, bool | dict | list):
        return json.dumps(value)
    return str(value)
