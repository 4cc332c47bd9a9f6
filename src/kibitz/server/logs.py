"""The server's own log: ``kibitz.*`` records as one line each — ``key=value``, or a JSON
object with ``--log-format json`` for a log shipper — at the configured level, beside
uvicorn's access log.

Without this the standard library keeps only warnings (its last-resort handler), so what an
operator most needs — which sessions were closed, and why — never appeared. Records carry
names and reasons; never a secret, a token or a message body.
"""

from __future__ import annotations

import logging

import structlog

__all__ = ["configure_logging"]

_HANDLER_NAME = "kibitz"


def configure_logging(level: str, fmt: str = "keyvalue") -> None:
    """Send ``kibitz.*`` records to stderr at ``level`` (idempotent)."""
    logger = logging.getLogger("kibitz")
    logger.setLevel(level.upper())
    if any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),  # a record's ``extra=`` fields
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _renderer(fmt),
            ],
        )
    )
    logger.addHandler(handler)
    logger.propagate = False


def _renderer(fmt: str) -> structlog.types.Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.processors.KeyValueRenderer(
        key_order=["timestamp", "level", "logger", "event"], drop_missing=True
    )
