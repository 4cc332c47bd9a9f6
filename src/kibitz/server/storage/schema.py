"""The one schema, for SQLite and PostgreSQL alike. Alembic migrations mirror it."""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

__all__ = [
    "OWNER_LENGTH",
    "app_settings",
    "apps",
    "contact_requests",
    "contacts",
    "cursors",
    "devices",
    "files",
    "group_lists",
    "group_member_attrs",
    "group_members",
    "group_read_acks",
    "groups",
    "id_floor",
    "inbox",
    "messages",
    "metadata",
    "presence",
    "presence_subscriptions",
    "queues",
    "user_attributes",
    "user_blocks",
    "user_mutes",
    "users",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

apps = Table(
    "apps",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_name", String(64), nullable=False),
    Column("app_name", String(64), nullable=False),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("client_secret", String(128), nullable=False),
    Column("app_id", String(32), nullable=False, unique=True),
    Column("app_certificate", String(32), nullable=False),
    Column("token_secret", String(128), nullable=False),
    Column("max_devices", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),  # banned
    UniqueConstraint("org_name", "app_name", name="uq_apps_org_app"),
)

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("app_pk", String(36), ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("username", String(64), nullable=False),
    Column("password_hash", String(256), nullable=True),
    Column("activated", Boolean, nullable=False),
    Column("nickname", String(128), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("modified_ms", BigInteger, nullable=False),
    Column("token_epoch", Integer, nullable=False),
    UniqueConstraint("app_pk", "username", name="uq_users_app_username"),
    Index("ix_users_app_created", "app_pk", "created_ms", "id"),
)

# -- messages (migration 0002) ------------------------------------------------------------
# A message is written once, with its downlink msync ``Meta`` already encoded; delivery is
# an ``inbox`` row per owner (a user id) and queue (the peer's name), read past the owning
# device's ``cursors`` row. ``queues`` keeps the newest id per owner and queue, so an
# UNREAD summary touches only conversations with something new.
#
# Since migration 0004 an inbox/queues ``owner`` is a user id or a conversation's key (a
# group's queue is written once for all its members), so it references no table: deleting
# a user deletes its rows explicitly (``SqlUserStore.delete``), and so must deleting a
# conversation. In a conversation's rows ``skip_resource`` is ``user id/resource``.

OWNER_LENGTH: Final = 64  # a user id (36) or a conversation key

messages = Table(
    "messages",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("app_pk", String(36), ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("chat_type", String(16), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("sender_resource", String(128), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("meta", LargeBinary, nullable=False),
    Index("ix_messages_app_id", "app_pk", "id"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("owner", String(OWNER_LENGTH), primary_key=True),
    Column("queue", String(200), primary_key=True),
    Column("msg_id", BigInteger, primary_key=True, autoincrement=False),
    Column("skip_resource", String(200), nullable=True),
)

queues = Table(
    "queues",
    metadata,
    Column("owner", String(OWNER_LENGTH), primary_key=True),
    Column("queue", String(200), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("owner", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("resource", String(128), primary_key=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("owner", String(36), primary_key=True),
    Column("resource", String(128), primary_key=True),
    Column("queue", String(200), primary_key=True),
    Column("acked", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["owner", "resource"],
        ["devices.owner", "devices.resource"],
        name="fk_cursors_owner_devices",
        ondelete="CASCADE",
    ),
)

# -- shared mode (migration 0003) ---------------------------------------------------------
# Nodes sharing one database take their message ids above the last id anyone committed:
# each group commit locks this one row, assigns its ids above it and raises it before
# COMMIT, so ids grow in commit order across nodes ("acknowledge everything ≤ key" is safe).

id_floor = Table(
    "id_floor",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("last_id", BigInteger, nullable=False),
)

# -- groups (migration 0005) --------------------------------------------------------------
# A group id is a snowflake id as a decimal string, unique across apps (its members and
# its queue name it alone); ``seq`` is the same number as an integer, so a page of an
# app's groups in id order is an index range. A group's inbox rows (owner ``g:{id}``) and
# its queue's cursors reference nothing: ``SqlGroupStore.delete`` deletes them.

groups = Table(
    "groups",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_pk", String(36), ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", String(512), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("public", Boolean, nullable=False),
    Column("approval", Boolean, nullable=False),
    Column("allow_invites", Boolean, nullable=False),
    Column("invite_need_confirm", Boolean, nullable=False),
    Column("max_users", Integer, nullable=False),
    Column("custom", Text, nullable=False),
    Column("avatar", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("modified_ms", BigInteger, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("mute_all", Boolean, nullable=False),
    Column("announcement", Text, nullable=False),
    Index("ix_groups_app_seq", "app_pk", "seq"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", String(32), ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("username", String(64), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(8), nullable=False),
    Column("joined_ms", BigInteger, nullable=False),
    Index("ix_group_members_user_id", "user_id"),
)

# A group's lists of users: mutes (expires_ms: 0 = until unmuted), the allow list, the
# block list, and pending applications and invitations (by_user: who invited).
group_lists = Table(
    "group_lists",
    metadata,
    Column("group_id", String(32), ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("username", String(64), primary_key=True),
    Column("expires_ms", BigInteger, nullable=False),
    Column("by_user", String(64), nullable=False),
)

# What a member says of itself in a group (key ≤ 16 B, value ≤ 512 B): gone when it leaves.
group_member_attrs = Table(
    "group_member_attrs",
    metadata,
    Column("group_id", String(32), ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("username", String(64), primary_key=True),
    Column("key", String(16), primary_key=True),
    Column("value", String(512), nullable=False),
)

# What an app overrides of its settings (domain/app_settings.py): one row per setting, the
# value as JSON text; a setting with no row has its default.
app_settings = Table(
    "app_settings",
    metadata,
    Column("app_pk", String(36), ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# -- contacts and block lists (migration 0008) --------------------------------------------
# A contact is two rows, one per side (each side's remark is its own); a pending request is
# one row, requester → invitee; a block is one row, owner → blocked. Every column naming a
# user references users.id, so deleting a user (or its app) deletes its rows on both sides.

contacts = Table(
    "contacts",
    metadata,
    Column("owner", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("contact", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("remark", String(100), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_contacts_contact", "contact"),
)

contact_requests = Table(
    "contact_requests",
    metadata,
    Column("requester", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("invitee", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_contact_requests_invitee", "invitee"),
)

user_blocks = Table(
    "user_blocks",
    metadata,
    Column("owner", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("blocked", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_user_blocks_blocked", "blocked"),
)

# -- attachments (migration 0007) ---------------------------------------------------------
# One row per uploaded file (domain/file_models.py FileRecord); the bytes live in the file
# store under ``{app_pk}/{uuid}``, written before the row. ``group_id``: a group's shared
# file. Deleting the app deletes the rows (cascade) after FileService.forget_app has
# deleted the blobs.
files = Table(
    "files",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("app_pk", String(36), ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("filename", String(256), nullable=False),
    Column("restricted", Boolean, nullable=False),
    Column("secret", String(64), nullable=False),
    Column("thumb_width", Integer, nullable=False),
    Column("thumb_height", Integer, nullable=False),
    Column("thumbnail", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("group_id", String(32), nullable=True),
    Index("ix_files_app_created", "app_pk", "created_ms"),
    Index("ix_files_group", "group_id", "created_ms"),
)

# -- user attributes and presence (migration 0009) ----------------------------------------
# A user's attributes are one JSON object (``size``: its bytes as the limit counts them, so
# an app's capacity is one SUM); presence is a row per user (its description, the status
# each live device published, when it last changed) and a row per subscription, found by
# its target for the fan-out. Every user column cascades from ``users``.

user_attributes = Table(
    "user_attributes",
    metadata,
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("app_pk", String(36), ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("data", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Index("ix_user_attributes_app_pk", "app_pk"),
)

presence = Table(
    "presence",
    metadata,
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("ext", Text, nullable=False),
    Column("statuses", Text, nullable=False),
    Column("last_ms", BigInteger, nullable=False),
)

presence_subscriptions = Table(
    "presence_subscriptions",
    metadata,
    Column("subscriber", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("target", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("expires_ms", BigInteger, nullable=False),
    Index("ix_presence_subscriptions_target", "target"),
)

# Who read which group message (group read receipts, domain/group_receipts.py): kept for
# the 3 days a receipt may be sent; each new receipt clears the group's older rows.
group_read_acks = Table(
    "group_read_acks",
    metadata,
    Column("group_id", String(32), ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("msg_id", BigInteger, primary_key=True, autoincrement=False),
    Column("username", String(64), primary_key=True),
    Column("read_ms", BigInteger, nullable=False),
)

# App-wide mutes of a user (domain/global_mutes.py): until when each kind of send is
# refused, epoch ms (0: not muted, -1: for ever).
user_mutes = Table(
    "user_mutes",
    metadata,
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("app_pk", String(36), nullable=False),
    Column("username", String(64), nullable=False),
    Column("chat_until", BigInteger, nullable=False),
    Column("groupchat_until", BigInteger, nullable=False),
    Column("chatroom_until", BigInteger, nullable=False),
    Index("ix_user_mutes_app_pk", "app_pk"),
)
