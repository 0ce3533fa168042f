"""``suanwang serve``: run the control-plane HTTP service.

The server is started by its import string (``suanwang.api.app:create_app``), so the command
line does not import the API package (they are siblings in the layer contract); the options
reach the server's settings through ``SUANWANG_*`` environment variables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from suanwang.cli.common import bad_input_exits

APP_FACTORY = "suanwang.api.app:create_app"


def serve(
    *,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8080,
    data_dir: Annotated[
        Path, typer.Option(help="Folder for the database, the live scenario and twin reports.")
    ] = Path(".suanwang"),
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="SUANWANG_DATABASE_URL",
            help="sqlite:///FILE or postgresql://...; default: DATA_DIR/suanwang.db.",
        ),
    ] = None,
    scenario: Annotated[
        str, typer.Option(help="Built-in or file made live at the first start.")
    ] = "metro-edge",
    profile: Annotated[str, typer.Option(help="Scheduling profile.")] = "cats-joint",
    max_body_bytes: Annotated[
        int, typer.Option(min=1024, help="Largest request body accepted (else 413).")
    ] = 1 << 20,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Run the control-plane service (HTTP API, group-committed task store, agents' dispatch).

    At the first start on an empty database an admin token is printed once; more tokens come
    from ``suanwang token create``.
    """
    import uvicorn  # noqa: PLC0415 (keeps `suanwang --help` fast)

    from suanwang.bootstrap import Settings  # noqa: PLC0415
    from suanwang.bootstrap.build import live_scenario  # noqa: PLC0415
    from suanwang.scenario import ScenarioError  # noqa: PLC0415
    from suanwang.scheduling import ProfileError, resolve_profile  # noqa: PLC0415

    variables = {
        "HOST": host,
        "PORT": str(port),
        "DATA_DIR": str(data_dir),
        "SCENARIO": scenario,
        "PROFILE": profile,
        "MAX_BODY_BYTES": str(max_body_bytes),
    }
    if database_url:
        variables["DATABASE_URL"] = database_url
    # Bad names fail here with one line, not in the server's start-up with a traceback.
    with bad_input_exits(ScenarioError, ProfileError, OSError):
        live_scenario(Settings(data_dir=data_dir, scenario=scenario))
        resolve_profile(profile)
    for name, value in variables.items():
        os.environ[f"SUANWANG_{name}"] = value
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
    )
