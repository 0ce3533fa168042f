"""Running the service in this process: ``serve(settings)``."""

from __future__ import annotations

import uvicorn

from suanwang.api.app import create_app
from suanwang.bootstrap import Settings


def serve(settings: Settings) -> None:
    """Serve the control plane on ``settings.host:settings.port`` until interrupted.

    Over TLS when ``settings`` name a certificate and key (``tls_cert``, ``tls_key``).
    """
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=settings.access_log,
        ssl_certfile=None if settings.tls_cert is None else str(settings.tls_cert),
        ssl_keyfile=None if settings.tls_key is None else str(settings.tls_key),
    )
