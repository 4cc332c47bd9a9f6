"""The kibitz Python client SDK: ``ChatClient`` (msync over WebSocket, like the official
Web SDK) and ``AdminClient`` (REST administration). Import from ``kibitz`` directly."""

from __future__ import annotations

from ._admin import AdminClient as AdminClient
from ._chat import ChatManager as ChatManager
from ._client import ChatClient as ChatClient
from ._contact_events import ContactEvent as ContactEvent
from ._contact_events import ContactListener as ContactListener
from ._contacts import Contact as Contact
from ._contacts import ContactManager as ContactManager
from ._discovery import ServerNode as ServerNode
from ._group_events import GroupEvent as GroupEvent
from ._group_events import GroupListener as GroupListener
from ._groups import GroupInfo as GroupInfo
from ._groups import GroupManager as GroupManager
from ._groups import GroupMember as GroupMember
from ._groups import GroupRole as GroupRole
from ._groups import JoinedGroup as JoinedGroup
from ._listeners import ChatEvent as ChatEvent
from ._listeners import CmdMessagesReceived as CmdMessagesReceived
from ._listeners import Connected as Connected
from ._listeners import ConnectionListener as ConnectionListener
from ._listeners import Disconnected as Disconnected
from ._listeners import EventStream as EventStream
from ._listeners import LoggedOut as LoggedOut
from ._listeners import MessageListener as MessageListener
from ._listeners import MessagesReceived as MessagesReceived
from ._listeners import MessageStream as MessageStream
from ._listeners import TokenExpired as TokenExpired
from ._listeners import TokenWillExpire as TokenWillExpire
from ._message import ChatMessage as ChatMessage
from ._message import ChatType as ChatType
from ._message import MessageType as MessageType
from ._options import ChatOptions as ChatOptions
from ._options import ConnectionState as ConnectionState
from ._presence import PresenceManager as PresenceManager
from ._presence_events import Presence as Presence
from ._presence_events import PresenceListener as PresenceListener
from ._presence_events import PresenceUpdated as PresenceUpdated
from ._user_info import UserInfoManager as UserInfoManager

__all__ = [
    "AdminClient",
    "ChatClient",
    "ChatEvent",
    "ChatManager",
    "ChatMessage",
    "ChatOptions",
    "ChatType",
    "CmdMessagesReceived",
    "Connected",
    "ConnectionListener",
    "ConnectionState",
    "Contact",
    "ContactEvent",
    "ContactListener",
    "ContactManager",
    "Disconnected",
    "EventStream",
    "GroupEvent",
    "GroupInfo",
    "GroupListener",
    "GroupManager",
    "GroupMember",
    "GroupRole",
    "JoinedGroup",
    "LoggedOut",
    "MessageListener",
    "MessageStream",
    "MessageType",
    "MessagesReceived",
    "Presence",
    "PresenceListener",
    "PresenceManager",
    "PresenceUpdated",
    "ServerNode",
    "TokenExpired",
    "TokenWillExpire",
    "UserInfoManager",
]
