"""``suanwang agent``: serve one node of the network from this machine; enrol it first.

Joining with a one-time enrolment token (an admin makes it, the provider's machine uses it)::

    suanwang agent enrol-token --node edge-1 --tenant acme --ttl 3600     # admin, on the database
    suanwang agent enroll --server http://HOST:8080 --enrol-token swe_... --node edge-1 \
        --credentials edge-1.json                  # key, measurement, binding: one step
    suanwang agent --credentials edge-1.json       # runs the agent

By hand instead (an admin, once per node)::

    suanwang agent --node edge-1 --key-file edge-1.key --print-key-id   # creates the key
    POST /v1/principals {"id": "agent-edge-1", "tenant": "acme", "roles": ["agent"],
                         "node_ids": ["edge-1"], "agent_key_id": "<key id>"}
    POST /v1/principals/agent-edge-1/tokens          # -> {"token": "swt_..."}
    suanwang agent --controller http://HOST:8080 --token swt_... --node edge-1 --key-file edge-1.key
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from suanwang.cli.common import console, fail, unavailable
from suanwang.cli.output import AsJson
from suanwang.cli.tokens import Database
from suanwang.cli.tokens import _stores as open_database

agent_app = typer.Typer(
    help="Run a node agent (no command), or enrol one with a one-time token.",
    invoke_without_command=True,
)


@agent_app.callback(invoke_without_command=True)
def agent(
    ctx: typer.Context,
    *,
    node: Annotated[str | None, typer.Option("--node", help="Node this agent speaks for.")] = None,
    credentials: Annotated[
        Path | None,
        typer.Option(help="Credentials file written by `agent enroll` (URL, node, token, key)."),
    ] = None,
    controller: Annotated[
        str, typer.Option(envvar="SUANWANG_URL", help="Control-plane URL.")
    ] = "http://127.0.0.1:8080",
    token: Annotated[
        str, typer.Option(envvar="SUANWANG_TOKEN", help="The agent principal's token.")
    ] = "",
    interval_s: Annotated[
        float, typer.Option("--interval-s", min=0.05, help="Seconds between heartbeats.")
    ] = 1.0,
    workers: Annotated[int, typer.Option(min=1, help="Tasks run at once.")] = 1,
    key_file: Annotated[
        Path | None, typer.Option(help="Private key file (created when absent).")
    ] = None,
    print_key_id: Annotated[
        bool, typer.Option(help="Create or load the key, print its id and exit.")
    ] = False,
    cpu_cores: Annotated[
        float | None,
        typer.Option(
            "--cpu-cores", min=0.01, help="Cores the node offers (default: the machine's)."
        ),
    ] = None,
    load_source: Annotated[
        str, typer.Option(help="Measured load: 'host' (the machine) or 'workers' (this agent's).")
    ] = "host",
    probe_interval_s: Annotated[
        float,
        typer.Option("--probe-interval-s", min=0.0, help="Seconds between link probes (0: none)."),
    ] = 0.0,
    echo_host: Annotated[
        str, typer.Option(help="Address of this agent's echo endpoint for link probes.")
    ] = "127.0.0.1",
    ca_file: Annotated[
        Path | None,
        typer.Option(
            envvar="SUANWANG_CA_FILE",
            help="PEM file to verify an https controller with: its CA or its own certificate.",
        ),
    ] = None,
    warm_per_function: Annotated[
        int,
        typer.Option(
            "--warm-per-function",
            min=0,
            help="Pre-started interpreters kept per tenant, artefact and entry (0: all cold).",
        ),
    ] = 0,
    wheelhouse: Annotated[
        str,
        typer.Option(help="Folder of wheels or index URL artefacts' requirements come from."),
    ] = "",
) -> None:
    """Run a node agent: measure, bind the key, heartbeat, pull tasks, run them, report.

    Stops cleanly on SIGTERM or Ctrl-C after reporting the tasks it is running.
    """
    if ctx.invoked_subcommand is not None:
        return
    from suanwang.execution.agent import AgentConfig, NodeAgent  # noqa: PLC0415
    from suanwang.execution.agent_config import load_or_create_key  # noqa: PLC0415
    from suanwang.execution.enrol import Credentials  # noqa: PLC0415
    from suanwang.execution.load import LOAD_SOURCES  # noqa: PLC0415
    from suanwang.security.tls import TrustError, client_context  # noqa: PLC0415

    if credentials is not None:
        try:
            found = Credentials.load(credentials)
        except (OSError, ValueError) as error:
            raise fail(f"--credentials: {error}") from None
        controller, token, node = found.controller_url, found.token, found.node_id
        key_file = Path(found.key_file)
    if node is None:
        raise fail("--node (or --credentials) is required")
    keys = load_or_create_key(key_file)
    if print_key_id:
        console.print(keys.key_id)
        return
    if not token:
        raise fail("--token (or SUANWANG_TOKEN) is required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    try:
        client_context(ca_file)  # a bad file fails here with one line, not in the first request
    except TrustError as error:
        raise fail(f"--ca-file: {error}") from None
    is_index = wheelhouse.startswith(("http://", "https://"))
    if wheelhouse and not is_index and not Path(wheelhouse).is_dir():
        raise fail(f"--wheelhouse: a folder of wheels or an index URL, got {wheelhouse!r}")
    source = next((s for s in LOAD_SOURCES if s == load_source), None)
    if source is None:
        raise fail(f"--load-source must be one of {', '.join(LOAD_SOURCES)}, got {load_source!r}")
    config = AgentConfig(
        controller,
        token,
        node,
        interval_s,
        workers,
        key_file,
        cpu_cores=cpu_cores,
        load_source=source,
        probe_interval_s=probe_interval_s,
        echo_host=echo_host,
        ca_file=ca_file,
        warm_per_function=warm_per_function,
        wheelhouse=wheelhouse,
    )
    running = NodeAgent(config, keys)

    def stop(_signal: int, _frame: FrameType | None) -> None:
        running.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running.run()
    console.print(f"agent {node}: {running.completed} completed, {running.failed} failed")


@agent_app.command("enroll")
def enroll(
    *,
    server: Annotated[str, typer.Option(envvar="SUANWANG_URL", help="Control-plane URL.")],
    enrol_token: Annotated[
        str, typer.Option(envvar="SUANWANG_ENROL_TOKEN", help="The one-time enrolment token.")
    ],
    node: Annotated[str, typer.Option("--node", help="Node this agent speaks for.")],
    credentials: Annotated[
        Path, typer.Option(help="Where the agent's credentials are written (mode 0600).")
    ],
    key_file: Annotated[
        Path | None, typer.Option(help="Private key file (default: beside the credentials).")
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(envvar="SUANWANG_CA_FILE", help="PEM file to verify an https controller."),
    ] = None,
) -> None:
    """Enrol this machine's agent: make its key, measure the machine, bind, write credentials.

    Does nothing when the credentials file exists already (enrolled before), so that it can
    run before every start; run the agent with `suanwang agent --credentials FILE`.
    """
    import httpx  # noqa: PLC0415 (fast --help)

    from suanwang.execution.enrol import EnrolError, enrol  # noqa: PLC0415
    from suanwang.security.tls import TrustError  # noqa: PLC0415

    if credentials.exists():
        console.print(f"already enrolled: {credentials}", highlight=False)
        return
    key = key_file or credentials.with_suffix(".key")
    try:
        enrolled = enrol(server, enrol_token, node, key, ca_file=ca_file)
    except EnrolError as error:
        raise fail(f"enrolment refused ({error.reason}): {error}") from None
    except TrustError as error:
        raise fail(f"--ca-file: {error}") from None
    except httpx.HTTPError as error:
        raise unavailable(f"cannot enrol at {server}: {error}") from None
    enrolled.save(credentials)
    console.print(
        f"enrolled {enrolled.principal_id} for {node} (key {enrolled.key_id}); "
        f"credentials in {credentials}",
        highlight=False,
    )


@agent_app.command("enrol-token")
def enrol_token(
    *,
    node: Annotated[str, typer.Option("--node", help="The node the token enrols.")],
    tenant: Annotated[str, typer.Option(help="Tenant of the agent it creates.")] = "operator",
    ttl_s: Annotated[
        float, typer.Option("--ttl", min=1.0, help="Seconds the token is valid.")
    ] = 3600.0,
    database: Database = None,
    as_json: AsJson = False,
) -> None:
    """Issue a one-time enrolment token for one node (on the database); shown once."""
    import json  # noqa: PLC0415
    import time  # noqa: PLC0415

    with open_database(database, create=False) as stores:
        if stores.trust is None:
            raise unavailable("this database keeps no enrolment tokens")
        now_s = time.time()
        issued = stores.trust.create_enrol_token(node, tenant, now_s + ttl_s, now_s)
        detail = f"for {node} of {tenant}, valid {ttl_s:g} s"
        stores.audit.append(
            "cli", "enrol-token.create", f"enrol-token:{issued.token_id}", detail, now_s
        )
    if as_json:
        out: dict[str, object] = {"token_id": issued.token_id, "node_id": node}
        out |= {"tenant": tenant, "token": issued.plaintext, "expires_at_s": issued.expires_at_s}
        console.print_json(json.dumps(out))
        return
    console.print(f"enrolment token {issued.token_id} for {node}", highlight=False)
    console.print(issued.plaintext, highlight=False, soft_wrap=True)
