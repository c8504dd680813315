"""What every shoptrace service shares as an HTTP server: its app's plumbing and how it runs.

A service builds its FastAPI app with :func:`new_app` (its middleware stack,
outermost first, is :func:`_assemble_middleware`'s docstring) and runs it with
:func:`main`, which also wraps it, as it is served, for a public endpoint.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from shoptrace import errors, logs, telemetry
from shoptrace.cancellation import CancelOnDisconnectMiddleware
from shoptrace.errors import UnhandledErrorMiddleware
from shoptrace.services import Service
from shoptrace.settings import KitSettings
from shoptrace.telemetry import FASTAPI_NATIVE_OFF, Telemetry

log = logging.getLogger(__name__)

#: uvicorn closes idle keep-alive connections after this many seconds. The
#: callers' pools (see shoptrace.upstream) expire theirs sooner, so a
#: request is never sent on a connection the server is just closing.
KEEP_ALIVE_S = 15

#: How long uvicorn lets requests in flight finish after SIGTERM.
GRACEFUL_SHUTDOWN_S = 3

#: Allocations (net) between two collections of the youngest generation, and
#: collections of one generation between two of the next: see :func:`tune_gc`.
GC_THRESHOLDS = (10_000, 50, 50)


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the request path, once start-up is done.

    A started service holds a few hundred thousand long-lived objects (FastAPI,
    pydantic, the OpenTelemetry SDK), and every request allocates hundreds more:
    with CPython's defaults (700, 10, 10) the collector runs every few requests
    and each full collection walks the whole heap, tens of milliseconds with
    the event loop stopped. ``gc.freeze()`` moves what start-up made out of the
    collector's sight for good, and a larger first threshold collects the
    young generation less often (docs/performance.md has what it changed).
    Cycles are still collected, just in larger batches; the bench's soak
    checks that memory does not grow.

    The one explicit collection in the services, once per process: what
    ``gc.freeze()`` moves is never collected again, so start-up's garbage is
    collected first rather than kept for the life of the process.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _assemble_middleware(app: FastAPI, telemetry: Telemetry) -> None:
    """The whole stack a request passes, in one place. From the outside in:

    1. for a public endpoint only, around the app as :func:`main` serves it:
       the caller's trace headers are set aside
       (:meth:`~shoptrace.telemetry.Telemetry.for_untrusted_callers`), so the
       SERVER span never continues them;
    2. the SERVER span (the contrib FastAPI instrumentation, which also wraps
       Starlette's own ServerErrorMiddleware);
    3. :class:`~shoptrace.errors.UnhandledErrorMiddleware`: any exception becomes
       one logged traceback, the span's exception event and a JSON 500, inside the span;
    4. :class:`~shoptrace.cancellation.CancelOnDisconnectMiddleware`: the handler is
       cancelled when its client leaves, and bodies over the limit are refused;
    5. Starlette's exception handlers (shoptrace.errors.install_handlers), then the routes.

    Starlette puts each middleware added outside the ones before it, so they
    are added innermost first; the instrumentation puts 2 outside all of them
    when the app first builds its stack, which is why 1 is not added here.
    """
    app.add_middleware(CancelOnDisconnectMiddleware)  # 4
    app.add_middleware(UnhandledErrorMiddleware)  # 3
    telemetry.instrument_app(app)  # 2


def new_app(
    title: str,
    telemetry: Telemetry,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Mapping[str, Any] | None]],
) -> FastAPI:
    """A FastAPI app with the shared error mapping, cancellation and tracing.

    ``lifespan`` opens and closes the service's resources, and may yield them
    as the lifespan state each request reads (``request.state``); tracing is shut
    down after it, so spans made while closing are exported too.
    """

    @asynccontextmanager
    async def full_lifespan(app: FastAPI) -> AsyncIterator[Mapping[str, Any]]:
        try:
            async with lifespan(app) as state:
                tune_gc()  # after the service's own start-up, so what it opened is frozen too
                yield state or {}  # Starlette hands it to each request as request.state
        finally:
            telemetry.shutdown()

    app = FastAPI(title=title, lifespan=full_lifespan, telemetry=FASTAPI_NATIVE_OFF)
    errors.install_handlers(app)
    _assemble_middleware(app, telemetry)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str | int]:
        """Alive: the process serves HTTP. Never traced.

        ``tasks`` counts the event loop's tasks, so a pile-up (of requests that
        never end, or work that outlives them) shows from outside.
        """
        return {"status": "ok", "tasks": len(asyncio.all_tasks())}

    return app


def main(service: Service, build: Callable[[Telemetry], FastAPI], public_endpoint: bool = False) -> None:
    """A service's ``python -m`` entry point: settings, logging, tracing, then its app, served.

    ``public_endpoint``: the callers are not trusted with the trace (see
    :meth:`shoptrace.telemetry.Telemetry.for_untrusted_callers`), so the app is
    served behind the middleware that sets their trace headers aside.
    """
    settings = KitSettings.from_env(service)
    # Logging first: what tracing's start-up says (a dead run's spans recovered) is a JSON line like the rest.
    logs.configure(telemetry.service_name(service.name), settings.log_level, settings.log_span_event_level)
    tracing = telemetry.setup(service.name)
    app = build(tracing)
    errors.link_traces_to(app, settings.jaeger_ui_url)
    serve(tracing.for_untrusted_callers(app) if public_endpoint else app, service, settings)


def serve(app: ASGIApp, service: Service, settings: KitSettings) -> None:
    """Run ``app`` with uvicorn on the settings' host and port."""
    log.info("%s listening on http://%s:%d", service.name, settings.host, settings.port)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the JSON logging set up by shoptrace.logs
        access_log=False,  # the SERVER span records every request
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
    )
