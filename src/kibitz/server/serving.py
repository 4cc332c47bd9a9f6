"""How an app built by ``create_app`` is served by uvicorn: one config for ``kibitz serve``
and for the tests that run a real server, so both drive the same socket layer — the
app's msync gateway on the raw socket for ``/websocket``, uvicorn for everything else."""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.applications import Starlette

from .settings import Settings
from .transport.msync.gateway import Gateway

__all__ = ["uvicorn_config"]


def uvicorn_config(app: Starlette, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """The ``uvicorn.Config`` that serves ``app``; ``overrides`` replace single options
    (tests: ``lifespan="off"`` when they run the lifespan themselves, a quieter
    ``log_level``, ``ws="websockets-sansio"`` to reach the ASGI fallback instead)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "ws_max_size": settings.max_frame_bytes,
        "ws_per_message_deflate": False,
        "ws_ping_interval": None,  # the SDK heartbeats with UNREAD; no WebSocket pings
        "log_level": settings.log_level,
        "lifespan": "on",
        "timeout_graceful_shutdown": 10,
    }
    http = getattr(app.state, "http_protocol", None)  # set by create_app
    if http is not None:
        options["http"] = http  # httptools, with Agora's JSON body for unparsable requests
    if "ws" not in overrides:
        gateway: Gateway = app.state.gateway  # set by create_app
        options["ws"] = gateway.ws_protocol  # /websocket on the raw socket (msync/rawws.py)
    options.update(overrides)
    return uvicorn.Config(app, **options)
