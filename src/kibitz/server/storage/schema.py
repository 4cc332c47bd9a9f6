"""The one schema, for SQLite and PostgreSQL alike. Alembic migrations mirror it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

__all__ = ["apps", "metadata", "users"]

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
