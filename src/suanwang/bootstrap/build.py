"""The composition root: settings in, a ready control plane out (the only place naming adapters)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from suanwang.bootstrap.settings import Settings
from suanwang.control.ports import Clock, PullDispatch
from suanwang.control.stores import (
    IssuedToken,
    Principal,
    PrincipalExistsError,
    PrincipalStore,
    Role,
    Stores,
    TaskJournal,
)
from suanwang.execution.dispatch import AgentDispatch
from suanwang.ledger import Ledger
from suanwang.model import Scenario
from suanwang.scenario import resolve_scenario
from suanwang.scheduling import resolve_profile
from suanwang.security.keys import KeyPair, load_private_key, save_private_key
from suanwang.security.keys import Role as KeyRole
from suanwang.service.agents import AgentPolicy
from suanwang.service.attest import AttestPolicy
from suanwang.service.health import HealthConfig
from suanwang.service.ledger import LedgerSyncer
from suanwang.service.livefile import LiveScenarioFile
from suanwang.service.plane import ControlPlane
from suanwang.storage import open_store
from suanwang.storage.journal import journal_for as _journal_for
from suanwang.storage.market import open_market

LIVE_SCENARIO_FILE = "live-scenario.json"
"""File in the data folder holding the scenario last made live through the API."""

RECOVERY_WHO = "control-plane"
"""Who the audit entries of a start's scenario recovery name."""
log = logging.getLogger(__name__)

FIRST_ADMIN_ID = "admin"
"""Principal id of the admin created at the first start."""


@dataclass(frozen=True, slots=True)
class Built:
    """A control plane ready to start, and the first admin's token if this start created one."""

    plane: ControlPlane
    first_token: IssuedToken | None


def journal_for(stores: Stores) -> TaskJournal:
    """The group-commit journal over the same database as ``stores``."""
    return _journal_for(stores)


def open_stores(url: str | None = None) -> Stores:
    """The stores at ``url``, migrated to the current schema (``storage.open_store``).

    For commands that work on the database without a server (tokens, the local network).

    Raises:
        StoreUnavailableError: the database cannot be reached or migrated.
        sqlalchemy.exc.ArgumentError: the URL cannot be parsed.
    """
    return open_store(url)


def ledger_key(settings: Settings, create: bool = True) -> KeyPair:
    """The ledger's signing key from ``settings.resolved_ledger_key()``.

    Args:
        settings: Where the key file is.
        create: Generate and save a key (0600) when the file does not exist yet.

    Raises:
        FileNotFoundError: no key file and ``create`` is False.
        PermissionError: group or others can read the key file.
        ValueError: the file is not an Ed25519 private key.
    """
    path = settings.resolved_ledger_key()
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_private_key(KeyPair.generate(KeyRole.CONTROLLER), path)
    return load_private_key(path, KeyRole.CONTROLLER)


def open_ledger(stores: Stores, key: KeyPair) -> Ledger:
    """The audit ledger over ``stores`` (its leaves, subtrees and heads, and the audit log).

    Raises:
        ValueError: the stores keep no ledger.
    """
    if stores.ledger is None:
        raise ValueError(f"the stores at {stores.url} keep no ledger")
    return Ledger(stores.ledger, stores.audit, key=key)


def agent_dispatch(node_ids: Iterable[str]) -> PullDispatch:
    """The live networks' engine: tasks pulled by node agents (``execution.AgentDispatch``)."""
    return AgentDispatch(node_ids)


def ensure_admin(principals: PrincipalStore, tenant: str) -> IssuedToken | None:
    """Create the first admin and a token for it when no admin exists; None otherwise."""
    if any(Role.ADMIN in p.roles for p in principals.principals()):
        return None
    # An "admin" principal stripped of its role is given the token all the same.
    with contextlib.suppress(PrincipalExistsError):
        principals.add_principal(Principal(FIRST_ADMIN_ID, tenant, frozenset({Role.ADMIN})))
    return principals.create_token(FIRST_ADMIN_ID)


def live_scenario(settings: Settings) -> Scenario:
    """The scenario a start would serve: the one last made live, else the configured one.

    Reads without the database and changes nothing (``build_plane`` settles what a crash
    left); an unreadable live file reads as the configured scenario, as a start serves it.

    Raises:
        ScenarioError: the configured scenario cannot be read.
    """
    kept = LiveScenarioFile(settings.data_dir / LIVE_SCENARIO_FILE)
    return kept.peek(lambda: resolve_scenario(settings.scenario))


def build_plane(settings: Settings, clock: Clock | None = None) -> Built:
    """Open the database, load the scenario and the profile, and assemble the control plane.

    Raises:
        ScenarioError: the scenario cannot be read.
        ProfileError: the profile is unknown or invalid.
        StoreUnavailableError: the database cannot be opened.
    """
    profile = resolve_profile(settings.profile)
    stores = open_store(settings.resolved_database_url())
    # The database says which staged scenario load committed; a bad live file falls back.
    kept = LiveScenarioFile(settings.data_dir / LIVE_SCENARIO_FILE)
    try:
        recovered = kept.recover(
            stores.audit, lambda: resolve_scenario(settings.scenario), wall_clock=clock is None
        )
    except BaseException:
        stores.close()
        raise
    for note in recovered.notes:
        log.warning("live scenario: %s", note)
        at_s = time.time() if clock is None else clock.now_s()
        stores.audit.append(RECOVERY_WHO, "scenario.recover", "scenario:live", note, at_s)
    scenario = recovered.scenario
    first = ensure_admin(stores.principals, settings.admin_tenant)
    health = None
    if settings.down_after_s > 0:
        suspect_after_s = min(settings.suspect_after_s, settings.down_after_s)
        health = HealthConfig(settings.health_tick_s, suspect_after_s, settings.down_after_s)
    plane = ControlPlane(
        stores,
        journal_for(stores),
        scenario,
        profile,
        dispatch=agent_dispatch,
        clock=clock,
        max_batch=settings.max_batch,
        live_scenario_path=settings.data_dir / LIVE_SCENARIO_FILE,
        health=health,
        agents=agent_policy(settings),
        ledger=_ledger_syncer(settings, stores),
        attest=AttestPolicy(
            interval_s=settings.attest_interval_s,
            jitter=settings.attest_jitter,
            size=settings.attest_size,
            trust_after=settings.attest_trust_after,
            tolerance=settings.attest_tolerance,
        ),
        series_period_s=settings.series_period_s,
        series_samples=settings.series_samples,
        market=open_market(stores, settings.market_period_s, settings.market_fee_rate),
    )
    return Built(plane, first)


def _ledger_syncer(settings: Settings, stores: Stores) -> LedgerSyncer | None:
    if settings.ledger_sync_s <= 0 or stores.ledger is None:
        return None
    return LedgerSyncer(open_ledger(stores, ledger_key(settings)), settings.ledger_sync_s)


def agent_policy(settings: Settings) -> AgentPolicy:
    """No-agent nodes, dispatch timeout and run time limits from the settings."""
    return AgentPolicy(
        require_agent=settings.require_agent,
        dispatch_timeout_s=settings.dispatch_timeout_s,
        max_run_s=settings.max_run_s or None,
        max_run_s_by_tenant=dict(settings.max_run_s_by_tenant),
    )
