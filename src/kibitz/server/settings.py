"""Server settings, read once (``Settings()``) in the composition root and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Every knob of one kibitz node. Environment variables use the ``KIBITZ_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="KIBITZ_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=5280, ge=0, le=65535)
    data_dir: Path = Path("var")
    database_url: str | None = None
    log_level: str = "info"
    log_format: Literal["keyvalue", "json"] = "keyvalue"  # KIBITZ_LOG_FORMAT
    node_id: int = Field(default=0, ge=0, le=1023)  # one node; a cluster leases its own

    # Cluster: nodes sharing one PostgreSQL database and one Redis
    redis_url: str | None = None
    redis_prefix: str = "kibitz:"
    public_url: str | None = None  # how clients reach this node (server.json); default host:port
    lease_ttl_s: float = Field(default=15.0, ge=1.0, le=60.0)
    redis_pool_size: int = Field(default=32, ge=2, le=1024)
    # PostgreSQL connections per node: this many for REST and logins (and as many again in
    # bursts), this many for the hot reads, one for the writer. N nodes need
    # max_connections ≥ N × (3 × database_pool_size + 1) on the server (default 100).
    database_pool_size: int = Field(default=8, ge=1, le=100)

    # REST
    max_body_bytes: int = Field(default=MIB, ge=1024)
    access_token_ttl_s: int = Field(default=86_400 * 7, ge=1)
    cors_origins: list[str] = ["*"]

    # Accounts and sessions
    default_max_devices: int = Field(default=4, ge=1, le=100)
    password_hash_threads: int = Field(default=2, ge=1)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    # msync gateway
    provision_timeout_s: float = Field(default=10.0, gt=0)
    idle_timeout_s: float = Field(default=75.0, gt=0)
    send_queue_frames: int = Field(default=1024, ge=8)
    # ...and bytes: 1,024 pull answers of 100 messages each would otherwise be ~500 MB
    send_queue_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    max_frame_bytes: int = Field(default=256 * 1024, ge=1024)
    # Load shedding (overload.py): new sends and REST calls are refused with SERVER_BUSY
    # while the writer has more than this many writes queued, or the loop stays this late.
    overload_queue_jobs: int = Field(default=4096, ge=-1)
    overload_lag_ms: float = Field(default=500.0, gt=0)
    sync_batch_size: int = Field(default=100, ge=1, le=1000)

    # Attachments: a directory (default {data_dir}/files) or s3://bucket/prefix (endpoint and
    # credentials from the usual AWS settings); how often the retention sweep runs.
    file_store: str | None = None
    file_sweep_interval_s: float = Field(default=3_600.0, gt=0)

    # Per-app limits (groups, contacts, files, ...) are the apps' own settings, changeable
    # live: domain/app_settings.py, GET/PUT /{org}/{app}/settings, kibitz app settings.

    @property
    def clustered(self) -> bool:
        return bool(self.redis_url)

    def advertised_url(self) -> str:
        """This node's REST base URL as clients should use it."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL: an explicit URL, or SQLite under ``data_dir``."""
        url = self.database_url
        if not url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'kibitz.db').resolve()}"
        if url.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
        return url
