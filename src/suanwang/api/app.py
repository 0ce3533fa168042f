"""The FastAPI application factory of the control-plane service.

``create_app(settings)`` builds the app; the control plane itself is built and started in the
app's lifespan, so a server process opens the database, resumes every unfinished task and only
then takes requests. ``uvicorn --factory suanwang.api.app:create_app`` reads the settings from
``SUANWANG_*`` environment variables.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware

from suanwang import __version__
from suanwang.api import problems
from suanwang.api.auth import Authenticator
from suanwang.api.docs import install_docs
from suanwang.api.limits import BodyLimit, SubmitLimiter
from suanwang.api.routes import (
    admin,
    agents,
    catalogue,
    deployments,
    fork,
    geo,
    graphs,
    intents,
    ledger,
    market,
    market_events,
    market_usage,
    network,
    objects,
    ops,
    registry,
    runs,
    scenarios,
    series,
    tasks,
    templates,
)
from suanwang.bootstrap import Settings, build_plane
from suanwang.bootstrap.logs import first_token_line
from suanwang.bootstrap.objects import open_objects
from suanwang.control.ports import Clock
from suanwang.service.graphs import Graphs
from suanwang.service.market_metrics import MarketCollector
from suanwang.service.templates import Templates
from suanwang.service.twinruns import TwinRuns

TWIN_RUNS_DIR = "twin-runs"
"""Folder under the data folder holding the twin runs' reports."""

_DESCRIPTION = """\
One point of access to the computing force network: the live topology, tasks with their
placements and diagnoses, agents' pulls and signed metric reports, scenarios and digital-twin
runs. Every route but `/health` (and, unless the server's `docs` setting says otherwise,
these documentation pages) needs a bearer token (`suanwang token create`); a tenant over its
submission rate gets 429 with `Retry-After`; errors are problem details (RFC 9457).
"""


GZIP_MIN_BYTES = 1024
"""Smallest answer compressed: below it gzip's header and the CPU cost outweigh the saving."""

# Young objects a cyclic collection waits for (Python's default is 700). Every request makes
# hundreds of short-lived objects; with the default, a collection would run every few requests.
GC_YOUNG_OBJECTS = 20_000


def _tune_garbage_collection() -> None:
    """Keep the cyclic collector off the long-lived heap and out of the hot path.

    What start-up built (topology arrays, schemas, plugins, routes) lives as long as the
    process: ``gc.freeze`` moves it out of the collector's sight, so collections scan only
    what requests made. On the submission path, collections over the whole heap otherwise take
    a large share of a request's CPU time.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_OBJECTS, older, oldest)


def portal_dir() -> Path:
    """The web portal's static files, shipped inside the package (``suanwang/web/static``).

    Located by path rather than by importing ``suanwang.web``: the portal is a sibling layer.
    """
    return Path(str(files("suanwang") / "web" / "static"))


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """The control-plane app.

    Args:
        settings: Server settings; None reads them from the environment.
        clock: Clock of the control plane (default: the wall clock).
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = await run_in_threadpool(build_plane, settings, clock)
        plane = built.plane
        if built.first_token is not None:
            # Shown once: the store keeps only the token's hash.
            line = first_token_line(built.first_token.plaintext, settings.log_format)
            print(line, file=sys.stderr, flush=True)
        app.state.first_token = built.first_token
        app.state.plane = plane
        if plane.market is not None:  # the market's series on /metrics, read from its store
            plane.metrics.registry.register(MarketCollector(plane.market.store))
        app.state.templates = Templates(plane)  # kept as deployments are: in memory
        app.state.authenticator = Authenticator(plane.stores.principals, settings.token_cache_s)
        app.state.twin_runs = TwinRuns(settings.data_dir / TWIN_RUNS_DIR)
        app.state.objects = await run_in_threadpool(open_objects, settings)
        app.state.graphs = Graphs(plane, app.state.objects)  # in memory, as deployments
        await run_in_threadpool(plane.start)
        app.state.graphs.start()
        if settings.tune_gc:
            _tune_garbage_collection()
        try:
            yield
        finally:
            app.state.twin_runs.close()
            app.state.graphs.stop()
            await run_in_threadpool(plane.stop)
            plane.stores.close()

    app = FastAPI(
        title="suanwang control plane",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        # /metrics is this service's telemetry; the framework's own would be checked per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # The documentation routes are installed below, by the `docs` setting, without a CDN.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    problems.install(app)
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, exempt=objects.STREAMED_UPLOADS
    )
    # Outermost: answers of at least GZIP_MIN_BYTES go compressed to clients that accept gzip.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES)
    app.state.submit_limiter = (
        SubmitLimiter(settings.submit_rate_per_s, settings.submit_burst)
        if settings.submit_rate_per_s > 0
        else None
    )
    routers = (ops, tasks, network, registry, agents, runs, scenarios, catalogue, admin)
    for module in (*routers, geo, ledger, objects, series, fork, deployments, market, intents):
        app.include_router(module.router)
    app.include_router(templates.router)
    app.include_router(market_events.router)
    app.include_router(market_usage.router)
    app.include_router(graphs.router)
    install_docs(app, settings.docs)
    # Last, so that every API route above takes precedence over a file of the same path.
    app.mount("/", StaticFiles(directory=portal_dir(), html=True), name="portal")
    return app
