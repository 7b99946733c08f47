"""Logging of a dependency outage that would otherwise repeat on every request."""

from __future__ import annotations

import logging
import threading
import time

# Each kind of outage is logged at most once per interval and process, with the number
# of repeats left out since the previous line.
OUTAGE_LOG_INTERVAL_SECONDS = 60.0

_lock = threading.Lock()
_last_logged: dict[str, float] = {}
_suppressed: dict[str, int] = {}


def log_outage(logger: logging.Logger, kind: str, message: str, *args: object) -> None:
    """Log a warning for `kind` unless one was logged within the interval."""
    now = time.monotonic()
    with _lock:
        last = _last_logged.get(kind)
        if last is not None and now - last < OUTAGE_LOG_INTERVAL_SECONDS:
            _suppressed[kind] = _suppressed.get(kind, 0) + 1
            return
        _last_logged[kind] = now
        repeats = _suppressed.pop(kind, 0)
    if repeats:
        message = f"{message} (%s repeats not logged)"
        args = (*args, repeats)
    logger.warning(message, *args)
