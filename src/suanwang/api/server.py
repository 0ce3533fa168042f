"""Running the service in this process: ``serve(settings)``."""

from __future__ import annotations

import uvicorn

from suanwang.api.app import create_app
from suanwang.bootstrap import Settings


def serve(settings: Settings) -> None:
    """Serve the control plane on ``settings.host:settings.port`` until interrupted."""
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
