"""The figures a reliability test measured (requests tried, frames sent, rounds survived),
kept for the terminal summary so that a plain ``make test`` shows them, not only ``-s``."""

from __future__ import annotations

__all__ = ["FIGURES", "record"]

FIGURES: dict[str, str] = {}


def record(name: str, **counts: object) -> str:
    """Keep ``name: k=v, …`` for the summary (a later record of ``name`` replaces it)."""
    line = ", ".join(f"{key}={value}" for key, value in counts.items())
    FIGURES[name] = line
    print(f"\n{name}: {line}")
    return line
