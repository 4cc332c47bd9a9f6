"""The composition root: ``create_app(settings)`` builds every service and owns its lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from kibitz.protocol import IdGenerator

from .cluster.rates import RedisRateCounter
from .cluster.setup import build_cluster
from .domain.accounts import AccountService
from .domain.app_settings import AppSettingsService
from .domain.apps import AppService
from .domain.auth import AuthService
from .domain.clock import SystemClock
from .domain.contacts import ContactRules, ContactService
from .domain.events import (
    AppDisabled,
    AppSettingsChanged,
    ContactsChanged,
    DeviceOffline,
    DeviceOnline,
    GroupChanged,
    KickDevices,
    MutesChanged,
    Notice,
    PresenceNotify,
    UserChanged,
)
from .domain.files import FileService
from .domain.global_mutes import GlobalMutes
from .domain.group_attributes import GroupAttributes
from .domain.group_cache import CachingGroupStore
from .domain.group_moderation import GroupModeration
from .domain.group_receipts import GroupReceipts
from .domain.group_requests import GroupRequests
from .domain.groups import GroupConversations, GroupService
from .domain.messaging import MessagingService
from .domain.models import App
from .domain.passwords import Argon2Hasher
from .domain.ports import Clock
from .domain.presence import PresenceService
from .domain.rates import RestRates, SendRates
from .domain.sessions import SessionService
from .domain.sync import SyncService
from .domain.user_attributes import UserAttributes
from .files.setup import build_file_store
from .files.thumbnails import PillowThumbnailer
from .metrics import Metrics
from .overload import LoadShedder
from .services import Services
from .settings import Settings
from .storage.engine import create_engine
from .storage.migrate import migrate
from .storage.stores.app_settings import SqlAppSettingsStore
from .storage.stores.apps import SqlAppStore
from .storage.stores.contacts import SqlContactStore
from .storage.stores.files import SqlFileMetaStore
from .storage.stores.global_mutes import SqlGlobalMuteStore
from .storage.stores.group_receipts import SqlReceiptStore
from .storage.stores.groups import SqlGroupStore
from .storage.stores.messages import SqlMessageStore
from .storage.stores.presence import SqlPresenceStore
from .storage.stores.user_attributes import SqlUserAttributeStore
from .storage.stores.users import SqlUserStore
from .transport.msync.endpoint import GatewayMiddleware, gateway_route
from .transport.msync.gateway import Gateway
from .transport.msync.notify import NotifyBoxes
from .transport.msync.registry import SessionRegistry
from .transport.rest import register_rest
from .transport.rest.http import http_protocol

__all__ = ["build_services", "create_app"]


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Wire the domain to its adapters. Nothing touches the network or disk yet."""
    clock = clock or SystemClock()
    engine = create_engine(settings.resolved_database_url(), settings.database_pool_size)
    cluster = build_cluster(settings)  # one node (memory) or many (Redis)
    bus = cluster.bus
    sessions = SessionRegistry()
    bus.subscribe(Notice, sessions.deliver)
    bus.subscribe(KickDevices, sessions.on_kick)
    live_sessions = SessionService(cluster.directory, bus, settings.node_id)
    hasher = Argon2Hasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        threads=settings.password_hash_threads,
    )
    apps = AppService(SqlAppStore(engine), clock, settings.default_max_devices, bus)
    bus.subscribe(AppDisabled, apps.apps_changed)
    bus.subscribe(AppDisabled, sessions.apps_disabled)
    app_settings = AppSettingsService(SqlAppSettingsStore(engine), bus, clock)
    bus.subscribe(AppSettingsChanged, app_settings.settings_changed)
    accounts = AccountService(SqlUserStore(engine), hasher, clock, live_sessions, bus)
    auth = AuthService(apps, accounts, clock, settings.access_token_ttl_s)
    ids = IdGenerator(clock.now_ms, node=settings.node_id)
    messages = SqlMessageStore(engine, ids, clock, shared=cluster.shared)
    # Sends read the group, its members and lists from memory; writes tell every node.
    group_store = CachingGroupStore(SqlGroupStore(engine), bus)
    bus.subscribe(GroupChanged, group_store.groups_changed)
    conversations = GroupConversations(group_store, clock)  # rooms and threads join it later
    contact_store = SqlContactStore(engine)
    contact_rules = ContactRules(contact_store, app_settings)  # what a 1:1 send asks
    bus.subscribe(ContactsChanged, contact_rules.contacts_changed)
    mutes = GlobalMutes(SqlGlobalMuteStore(engine), messages, bus, clock)
    bus.subscribe(MutesChanged, mutes.mutes_changed)
    messaging = MessagingService(
        messages,
        bus,
        live_sessions,
        clock,
        shared=cluster.shared,
        conversations=conversations,
        rules=contact_rules,
        sender_checks=(mutes, SendRates(app_settings, clock)),
    )
    bus.subscribe(UserChanged, messaging.users_changed)
    sync = SyncService(
        messages,
        batch_size=settings.sync_batch_size,
        counts=messaging,
        conversations=conversations,
        settings=app_settings,
    )
    groups = GroupService(
        group_store,
        messages,
        clock,
        ids,
        app_settings=app_settings,
        events=messaging,
        cursors=sync,
    )
    notify = NotifyBoxes(sessions, ids, clock)  # presence events for this node's sessions
    bus.subscribe(PresenceNotify, notify.on_presence)
    presence = PresenceService(SqlPresenceStore(engine), live_sessions, bus, app_settings, clock)
    bus.subscribe(DeviceOnline, presence.devices_online)
    bus.subscribe(DeviceOffline, presence.devices_offline)
    accounts.removals.append(groups)  # a user's own groups go with its account
    accounts.settings = app_settings  # max_users
    metrics = Metrics()
    metrics.read_sessions(sessions.count)
    metrics.read_writer_queue(lambda: messages.queued)
    messages.watch_commits(metrics.commit)
    overload = LoadShedder(
        lambda: messages.queued,
        max_queue_jobs=settings.overload_queue_jobs,
        max_lag_ms=settings.overload_lag_ms,
    )
    metrics.read_shed(lambda: overload.shed)
    return Services(
        settings=settings,
        metrics=metrics,
        overload=overload,
        clock=clock,
        ids=ids,
        engine=engine,
        apps=apps,
        app_settings=app_settings,
        accounts=accounts,
        auth=auth,
        sessions=sessions,
        live_sessions=live_sessions,
        nodes=cluster.nodes,
        cluster=cluster,
        messages=messages,
        messaging=messaging,
        sync=sync,
        groups=groups,
        contacts=ContactService(
            contact_store,
            messages,
            app_settings,
            clock,
            events=messaging,
            bus=bus,
            rules=contact_rules,
        ),
        moderation=GroupModeration(groups, group_store, clock),
        requests=GroupRequests(groups, group_store, clock),
        attributes=GroupAttributes(groups, group_store),
        mutes=mutes,
        rest_rates=RestRates(
            app_settings,
            clock,
            RedisRateCounter(cluster.redis, settings.redis_prefix) if cluster.redis else None,
        ),
        receipts=GroupReceipts(
            groups, SqlReceiptStore(engine), app_settings, messaging, clock, ids
        ),
        presence=presence,
        user_info=UserAttributes(SqlUserAttributeStore(engine), app_settings),
        notify=notify,
        files=FileService(
            build_file_store(settings),
            SqlFileMetaStore(engine),
            app_settings,
            clock,
            PillowThumbnailer(),
        ),
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    on_default_app: Callable[[App], None] | None = None,
) -> FastAPI:
    """Build the ASGI app: REST routes, the msync WebSocket, health and metrics.

    ``on_default_app`` is called once, with the app created on the first start of an empty
    store; ``kibitz serve`` uses it to print the credentials.
    """
    services = build_services(settings, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(services.engine)
        live = services.live_sessions
        live.node = await services.cluster.start(services.ids)  # a cluster leases a node id
        live.epoch = services.cluster.lease.epoch if services.cluster.lease else ""
        await services.messages.start()
        services.overload.start()
        if on_default_app is not None and not await services.apps.all_apps():
            on_default_app(await services.apps.create("kibitz", "demo"))
        sweeps = asyncio.create_task(services.files.sweep_forever(settings.file_sweep_interval_s))
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            sweeps.cancel()
            closing = []
            for app_pk, username, session in services.sessions.all_sessions():
                services.sessions.remove(app_pk, username, session)
                closing.append(session.close_for_shutdown())
            await asyncio.gather(*closing)
            await services.sessions.kicks_done()
            await live.aclose()  # this node's devices leave the directory
            await services.presence.aclose()  # the last changes are announced
            await services.overload.aclose()
            await services.messages.aclose()  # every queued write commits before we stop
            await services.cluster.aclose()
            await services.files.store.aclose()
            await services.engine.dispose()

    app = FastAPI(
        title="kibitz", version="0.1.0", lifespan=lifespan, docs_url="/docs", redoc_url=None
    )
    app.state.services = services
    app.state.ready = False

    @app.get("/health", include_in_schema=False)
    async def health() -> Any:
        if not app.state.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False)
    async def ready() -> Any:
        """Ready to serve: started, the database answers and, in a cluster, Redis."""
        failed = [] if app.state.ready else ["starting"]
        try:
            async with asyncio.timeout(2.0):
                async with services.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception:
            failed.append("database")
        if services.cluster.redis is not None:
            try:
                async with asyncio.timeout(2.0):
                    await services.cluster.redis.ping()
            except Exception:
                failed.append("redis")
        if failed:
            return JSONResponse({"status": "not ready", "failed": failed}, status_code=503)
        return {"status": "ready"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus text format; counts and timings only (no names, no bodies)."""
        return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    register_rest(app)
    app.state.http_protocol = http_protocol(services.clock.now_ms)  # serving.uvicorn_config
    # The msync gateway, built once: the ASGI ways in below, and the raw socket protocol
    # that serving.uvicorn_config installs (kibitz serve and the tests).
    gateway = app.state.gateway = Gateway(services)
    app.router.routes.append(gateway_route(gateway))
    app.add_middleware(GatewayMiddleware, gateway=gateway)  # outermost: msync fast path
    return app
