"""Logging: loguru everywhere, JSON lines in production, each line carrying the request id
and, inside a traced request or job, its W3C trace id (the fields log search keys on)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys

from loguru import logger
from opentelemetry import trace

from docserve.api.settings import Settings

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def _add_request_context(record: dict) -> None:
    record["extra"].setdefault("request_id", request_id_var.get())
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        record["extra"].setdefault("trace_id", format(span.trace_id, "032x"))


class _InterceptHandler(logging.Handler):
    """Route stdlib logging (uvicorn, tritonclient) into loguru so every line has one format."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


def _json_line(message) -> None:
    """One compact JSON object per line: what log shippers want, and what people can grep."""
    record = message.record
    line = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "logger": record["name"],
        "message": record["message"],
        **record["extra"],
    }
    if record["exception"]:
        line["exception"] = str(record["exception"].value)
    sys.stderr.write(json.dumps(line, default=str) + "\n")


def configure_logging(settings: Settings) -> None:
    logger.remove()
    logger.configure(patcher=_add_request_context)
    if settings.log_json:
        logger.add(_json_line, level=settings.log_level)
    else:
        logger.add(
            sys.stderr,
            level=settings.log_level,
            format="{time:HH:mm:ss.SSS} {level:<7} [{extra[request_id]}] {message}",
        )
    logging.basicConfig(handlers=[_InterceptHandler()], level=0, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = [_InterceptHandler()]
        logging.getLogger(name).propagate = False
