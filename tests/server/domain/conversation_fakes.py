"""A ``Conversations`` port that knows the conversations it is given (groups arrive later)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kibitz.protocol import ChatError
from kibitz.server.domain.conversations import Conversation, conversation_queue
from kibitz.server.domain.delivery import TargetKind


@dataclass
class Known:
    conversation: Conversation
    members: dict[str, str] = field(default_factory=dict)  # user id → username


class FakeConversations:
    def __init__(self) -> None:
        self.known: dict[tuple[str, TargetKind, str], Known] = {}

    def add(
        self,
        app_pk: str,
        kind: TargetKind,
        name: str,
        members: dict[str, str],
        key: str | None = None,
    ) -> Conversation:
        conversation = Conversation(
            app_pk, kind, name, key or f"{kind.value}:{name}", conversation_queue(name)
        )
        self.known[(app_pk, kind, name)] = Known(conversation, dict(members))
        return conversation

    async def find(self, app_pk: str, kind: TargetKind, name: str) -> Conversation | None:
        known = self.known.get((app_pk, kind, name))
        return None if known is None else known.conversation

    async def members(self, conversation: Conversation) -> Sequence[str]:
        known = self.known[(conversation.app_pk, conversation.kind, conversation.name)]
        return list(known.members.values())

    async def member_of(self, user_id: str, queue: str) -> Conversation | None:
        for known in self.known.values():
            if known.conversation.queue == queue and user_id in known.members:
                return known.conversation
        return None

    async def joined(self, user_id: str) -> Sequence[Conversation]:
        return [k.conversation for k in self.known.values() if user_id in k.members]

    async def refusal(self, conversation: Conversation, username: str) -> ChatError | None:
        return None

    async def unheeding(self, conversation: Conversation) -> set[str]:
        return set()
