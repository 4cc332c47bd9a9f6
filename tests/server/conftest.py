"""Fixtures shared by the server tests: a Redis client and a key prefix of one's own."""

from __future__ import annotations

from .redis_support import prefix, redis

__all__ = ["prefix", "redis"]
