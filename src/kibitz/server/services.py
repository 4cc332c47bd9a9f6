"""The container of domain services that ``create_app`` builds and transports share."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from kibitz.protocol import IdGenerator

from .cluster.setup import Cluster
from .domain.accounts import AccountService
from .domain.app_settings import AppSettingsService
from .domain.apps import AppService
from .domain.auth import AuthService
from .domain.contacts import ContactService
from .domain.files import FileService
from .domain.global_mutes import GlobalMutes
from .domain.group_attributes import GroupAttributes
from .domain.group_moderation import GroupModeration
from .domain.group_receipts import GroupReceipts
from .domain.group_requests import GroupRequests
from .domain.groups import GroupService
from .domain.messaging import MessagingService
from .domain.nodes import NodeList
from .domain.ports import Clock
from .domain.presence import PresenceService
from .domain.rates import RestRates
from .domain.sessions import SessionService
from .domain.sync import SyncService
from .domain.user_attributes import UserAttributes
from .metrics import Metrics
from .overload import LoadShedder
from .settings import Settings
from .storage.stores.messages import SqlMessageStore
from .transport.msync.notify import NotifyBoxes
from .transport.msync.registry import SessionRegistry

__all__ = ["Services"]


@dataclass(slots=True)
class Services:
    settings: Settings
    metrics: Metrics  # /metrics: fed by the edges and the writer
    overload: LoadShedder  # refuses new work while the node cannot keep up
    clock: Clock
    ids: IdGenerator
    engine: AsyncEngine
    apps: AppService
    app_settings: AppSettingsService  # per-app limits and switches, cached per node
    accounts: AccountService
    auth: AuthService
    sessions: SessionRegistry  # this node's connections
    live_sessions: SessionService  # every node's devices: admission, kicks, who is online
    nodes: NodeList
    cluster: Cluster
    messages: SqlMessageStore  # the group-commit writer: started and drained by the lifespan
    messaging: MessagingService
    sync: SyncService
    groups: GroupService
    contacts: ContactService  # contacts and block lists; ROSTER events
    moderation: GroupModeration
    requests: GroupRequests
    attributes: GroupAttributes
    receipts: GroupReceipts
    mutes: GlobalMutes  # app-wide mutes, cached per node
    rest_rates: RestRates  # per app and route; shared by the nodes of a cluster
    presence: PresenceService  # publish, subscribe, and telling followers
    user_info: UserAttributes  # user attributes (Agora's user info)
    notify: NotifyBoxes  # this node's sessions' NOTIFY metas (presence events)
    files: FileService  # attachments: bytes in the file store, rows in the database
