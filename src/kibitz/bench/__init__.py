"""``kibitz bench``: a load generator and benchmark for a kibitz server (see bench/README.md)."""

from __future__ import annotations

from .command import bench

__all__ = ["bench"]
