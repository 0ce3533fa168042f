"""``suanwang agent``: serve one node of the network from this machine.

Setting up an agent (an admin, once per node)::

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

from suanwang.cli.common import console, fail


def agent(
    *,
    node: Annotated[str, typer.Option("--node", help="Node this agent speaks for.")],
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
) -> None:
    """Run a node agent: measure, bind the key, heartbeat, pull tasks, run them, report.

    Stops cleanly on SIGTERM or Ctrl-C after reporting the tasks it is running.
    """
    from suanwang.execution.agent import AgentConfig, NodeAgent, load_or_create_key  # noqa: PLC0415
    from suanwang.execution.load import LOAD_SOURCES  # noqa: PLC0415
    from suanwang.security.tls import TrustError, client_context  # noqa: PLC0415

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
    )
    running = NodeAgent(config, keys)

    def stop(_signal: int, _frame: FrameType | None) -> None:
        running.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running.run()
    console.print(f"agent {node}: {running.completed} completed, {running.failed} failed")
