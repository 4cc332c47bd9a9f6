"""The Agora-compatible REST API: ``register_rest(app)`` mounts it on the ASGI app.

Layers, outermost first: CORS (with preflight, so browsers can call it) → the request guard
(start time, body cap) → FastAPI's routing, where ``errors`` turns every failure into
Agora's error body and ``envelope`` shapes every success.
"""

from __future__ import annotations

from typing import cast

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from kibitz.server.services import Services

from .deps import load_guard
from .errors import install_error_handlers
from .middleware import AgoraCORSMiddleware, RequestGuard
from .openapi import install_openapi
from .routes import ROUTERS
from .uploads import MAX_UPLOAD_BYTES, UPLOAD_PATHS

__all__ = ["register_rest"]


def register_rest(app: FastAPI) -> None:
    services = cast(Services, app.state.services)
    settings = services.settings
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, dependencies=[Depends(load_guard)])
    # Every method served per path, for a 405's Allow header (errors.py).
    app.state.route_methods = [
        (route.path_regex, set(route.methods or ()))
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    install_openapi(app)
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        now_ms=services.clock.now_ms,
        upload_paths=UPLOAD_PATHS,  # streamed by their routes, under each app's file cap
        max_upload_bytes=MAX_UPLOAD_BYTES,
    )
    app.add_middleware(
        AgoraCORSMiddleware,
        now_ms=services.clock.now_ms,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["*"],
        max_age=86_400,
    )
