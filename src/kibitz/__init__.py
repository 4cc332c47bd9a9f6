"""kibitz: self-hosted instant messaging, wire-compatible with Agora Chat.

The public Python API is the client SDK::

    from kibitz import ChatClient, ChatOptions, ChatMessage, ChatError, ErrorCode

    client = ChatClient(ChatOptions.for_server("http://127.0.0.1:5280", "acme#chat"))
    await client.login("alice", password="pw")
    sent = await client.chat.send_message(ChatMessage.text("bob", "hi"))
    await client.logout()

``AdminClient`` does the REST administration (users, app tokens, sending as a user).
"""

from __future__ import annotations

from kibitz.protocol import ChatError, ErrorCode
from kibitz.sdk import (
    AdminClient,
    ChatClient,
    ChatEvent,
    ChatManager,
    ChatMessage,
    ChatOptions,
    ChatType,
    CmdMessagesReceived,
    Connected,
    ConnectionListener,
    ConnectionState,
    Contact,
    ContactEvent,
    ContactListener,
    ContactManager,
    Disconnected,
    EventStream,
    GroupEvent,
    GroupInfo,
    GroupListener,
    GroupManager,
    GroupMember,
    GroupRole,
    JoinedGroup,
    LoggedOut,
    MessageListener,
    MessagesReceived,
    MessageStream,
    MessageType,
    Presence,
    PresenceListener,
    PresenceManager,
    PresenceUpdated,
    TokenExpired,
    TokenWillExpire,
    UserInfoManager,
)

__all__ = [
    "AdminClient",
    "ChatClient",
    "ChatError",
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
    "ErrorCode",
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
    "TokenExpired",
    "TokenWillExpire",
    "UserInfoManager",
]
