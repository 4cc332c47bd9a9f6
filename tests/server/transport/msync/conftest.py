"""An in-process kibitz served by uvicorn on a free port, so the msync tests use a real
WebSocket and still reach into the services (users, tokens, the registry)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from kibitz.server.domain.accounts import NewUser
from kibitz.server.domain.models import App, User
from kibitz.server.services import Services
from kibitz.server.serving import uvicorn_config
from kibitz.server.settings import Settings
from tests.conftest import AppHarness

from .client import MsyncClient


@dataclass
class Gateway:
    harness: AppHarness
    port: int
    config: uvicorn.Config

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/websocket"

    @property
    def app_key(self) -> str:
        return self.harness.app.app_key

    @property
    def services(self) -> Services:
        return self.harness.services

    async def new_app(self, name: str, **options: Any) -> App:
        app = await self.services.apps.create("acme", name, **options)
        self._apps[app.id] = app
        return app

    def app_of(self, user: User) -> App:
        return self._apps.get(user.app_pk, self.harness.app)

    async def user(self, name: str, password: str = "secret", app: App | None = None) -> User:
        result = await self.services.accounts.register(
            app or self.harness.app, [NewUser(name, password)]
        )
        return result.created[0]

    def token(self, user: User) -> str:
        return self.services.auth.issue_user_token(self.app_of(user), user).access_token

    async def client(
        self, user: User | None = None, resource: str = "", app: App | None = None
    ) -> MsyncClient:
        """A connected client, logged in as ``user`` when given."""
        app = app or (self.app_of(user) if user else self.harness.app)
        c = await MsyncClient.open(self.url, app.app_key)
        self._clients.append(c)
        if user is not None:
            await c.login(user.username, self.token(user), resource)
        return c

    def __post_init__(self) -> None:
        self._clients: list[MsyncClient] = []
        self._apps: dict[str, App] = {}


async def serve(
    asgi: Any, settings: Settings, raw: bool = True
) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """uvicorn on a free port, configured as ``kibitz serve`` configures it
    (``serving.uvicorn_config``): ``raw``, /websocket on the app's msync gateway protocol
    (msync/rawws.py), else through ASGI (GatewayMiddleware or the plain route)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    overrides: dict[str, Any] = {} if raw else {"ws": "websockets-sansio"}
    config = uvicorn_config(asgi, settings, lifespan="off", log_level="warning", **overrides)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not server.started:  # uvicorn offers no event for this; bounded by the deadline
        assert loop.time() < deadline and not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.005)
    return server, task, port


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def gateway_factory(
    harness_factory: Callable[..., Awaitable[AppHarness]],
) -> AsyncIterator[GatewayFactory]:
    running: list[tuple[uvicorn.Server, asyncio.Task[None], Gateway]] = []

    async def make(raw: bool = True, **overrides: Any) -> Gateway:
        harness = await harness_factory(**overrides)
        server, task, port = await serve(harness.asgi, harness.services.settings, raw)
        gw = Gateway(harness, port, server.config)
        running.append((server, task, gw))
        return gw

    yield make
    for server, task, gw in running:
        for c in gw._clients:
            await c.close()
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@pytest.fixture
async def gateway(gateway_factory: GatewayFactory) -> Gateway:
    return await gateway_factory()
