"""``suanwang serve``: run the control-plane HTTP service.

Every option has a ``SUANWANG_*`` variable (``--port`` and ``SUANWANG_PORT``...); a flag given
on the command line wins over the variable, the variable over the default. The options that
were given become ``Settings`` arguments and pydantic-settings fills in the rest from the
environment, so there is one rule for every option and no default of the command line can hide
a variable.

The server is started by its import string (``suanwang.api.app:create_app``), so the command
line does not import the API package (they are siblings in the layer contract); the resolved
settings reach the server through the same variables. Everything that can fail without side
effects is checked first (settings, scenario, profile, TLS files) and the port is bound before
the server starts, so a start that cannot serve creates no database and prints no token.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from suanwang.cli.common import bad_input_exits, console, fail, unavailable

if TYPE_CHECKING:
    from suanwang.bootstrap import Settings

APP_FACTORY = "suanwang.api.app:create_app"


def _env(name: str) -> str:
    return f"[env: SUANWANG_{name}]"


def serve(
    *,
    host: Annotated[
        str | None, typer.Option(help=f"Address to listen on [default: 127.0.0.1] {_env('HOST')}")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help=f"Port, 0: any free one [default: 8080] {_env('PORT')}"
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the database, the live scenario and twin reports "
            f"[default: .suanwang] {_env('DATA_DIR')}"
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help=f"sqlite:///FILE or postgresql://...; default: DATA_DIR/suanwang.db "
            f"{_env('DATABASE_URL')}",
        ),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            help=f"Built-in or file made live at the first start [default: metro-edge] "
            f"{_env('SCENARIO')}"
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(help=f"Scheduling profile [default: cats-joint] {_env('PROFILE')}"),
    ] = None,
    max_body_bytes: Annotated[
        int | None,
        typer.Option(
            min=1024,
            help=f"Largest request body accepted, else 413 [default: 1048576] "
            f"{_env('MAX_BODY_BYTES')}",
        ),
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option(help=f"Log every request [default: no] {_env('ACCESS_LOG')}"),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            help=f"Log lines: text, or json (one object per line) [default: text] "
            f"{_env('LOG_FORMAT')}"
        ),
    ] = None,
    docs: Annotated[
        str | None,
        typer.Option(
            help=f"API docs: public, token (any valid token) or off [default: public] "
            f"{_env('DOCS')}"
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            help=f"PEM certificate chain: serve HTTPS (with --tls-key) {_env('TLS_CERT')}"
        ),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help=f"PEM private key of --tls-cert {_env('TLS_KEY')}")
    ] = None,
    submit_rate_per_s: Annotated[
        float | None,
        typer.Option(
            "--submit-rate-per-s",
            min=0.0,
            help=f"Task submissions per second per tenant, 0: no limit [default: 0] "
            f"{_env('SUBMIT_RATE_PER_S')}",
        ),
    ] = None,
    submit_burst: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"Submissions a tenant may make at once [default: 100] {_env('SUBMIT_BURST')}",
        ),
    ] = None,
    print_settings: Annotated[
        bool, typer.Option(help="Print the settings this start would use (JSON) and exit.")
    ] = False,
) -> None:
    """Run the control-plane service (HTTP API, group-committed task store, agents' dispatch).

    At the first start on an empty database an admin token is printed once; more tokens come
    from ``suanwang token create``.
    """
    given = {
        "host": host,
        "port": port,
        "data_dir": data_dir,
        "database_url": database_url,
        "scenario": scenario,
        "profile": profile,
        "max_body_bytes": max_body_bytes,
        "access_log": access_log,
        "log_format": log_format,
        "docs": docs,
        "tls_cert": tls_cert,
        "tls_key": tls_key,
        "submit_rate_per_s": submit_rate_per_s,
        "submit_burst": submit_burst,
    }
    settings = _settings({name: value for name, value in given.items() if value is not None})
    if print_settings:
        console.print_json(json.dumps(settings.model_dump(mode="json")))
        return
    _check(settings)
    tls = _tls_context(settings)
    listening = _bind(settings.host, settings.port)
    _run(settings, listening, tls is not None)


def _settings(given: dict[str, Any]) -> Settings:
    """Settings from the given options over the environment; one error line when invalid."""
    from pydantic import ValidationError  # noqa: PLC0415 (keeps `suanwang --help` fast)

    from suanwang.bootstrap import Settings  # noqa: PLC0415

    try:
        return Settings(**given)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        variable = f" (SUANWANG_{where.upper()})" if first["loc"] else ""
        raise fail(f"{where}{variable}: {first['msg']}") from None


def _check(settings: Settings) -> None:
    """Fail on a bad scenario or profile with one line (reads only, creates nothing)."""
    from suanwang.bootstrap.build import live_scenario  # noqa: PLC0415
    from suanwang.scenario import ScenarioError  # noqa: PLC0415
    from suanwang.scheduling import ProfileError, resolve_profile  # noqa: PLC0415

    with bad_input_exits(ScenarioError, ProfileError, OSError):
        live_scenario(settings)
        resolve_profile(settings.profile)


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    """Load the certificate and key once here, so that a bad pair fails before any start."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as error:
        raise fail(f"cannot load --tls-cert {settings.tls_cert} / --tls-key: {error}") from None
    return context


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or one error line (exit 1) when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restarted server may take over a port whose old connections linger.
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
        listening.listen(2048)
    except OSError as error:
        listening.close()
        raise unavailable(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    listening.set_inheritable(True)
    return listening


def _run(settings: Settings, listening: socket.socket, tls: bool) -> None:
    import uvicorn  # noqa: PLC0415 (keeps `suanwang --help` fast)

    from suanwang.bootstrap.logs import uvicorn_log_config  # noqa: PLC0415

    os.environ.update(settings.to_environment())
    log_config = uvicorn_log_config(settings.log_format)
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=listening.getsockname()[1],
        access_log=settings.access_log,
        log_level="info",
        log_config=uvicorn.config.LOGGING_CONFIG if log_config is None else log_config,
        ssl_certfile=str(settings.tls_cert) if tls else None,
        ssl_keyfile=str(settings.tls_key) if tls else None,
    )
    with listening:
        uvicorn.Server(config).run(sockets=[listening])
