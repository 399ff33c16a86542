"""Structured audit log: one JSON object per line, for logins, lockouts, overrides, resets, imports, API use.

Call ``audit("reset", actor=..., learner=..., step=..., reason=...)``. Only the
fields named here are written; values are ids, usernames and short reasons.
Passwords, tokens and quiz answers are never passed in, and ``_scrub`` drops
any key that looks like one, so a careless caller cannot leak them either.
"""

import functools
import getpass
import json
import logging
import os
from datetime import UTC, datetime

logger = logging.getLogger("mars_labs.audit")

_SECRET_WORDS = ("password", "token", "secret", "answer", "authorization", "cookie", "session")


@functools.lru_cache(maxsize=512)  # field names are a few dozen literals; this runs per API write
def _secret_key(key):
    return any(word in key.lower() for word in _SECRET_WORDS)


def _scrub(fields):
    return {k: v for k, v in fields.items() if not _secret_key(k)}


def audit(event, **fields):
    """Log one audit event (``event`` is a short verb: login, login_failed, locked_out, reset, ...)."""
    logger.info(event, extra={"audit": _scrub(fields)})


def operator():
    """Who runs a management command: the login behind sudo, else the OS user ("" when unknown)."""
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return ""


class JsonFormatter(logging.Formatter):
    """Formats any record as one JSON line; audit records carry their fields at the top level."""

    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **getattr(record, "audit", {}),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(line, default=str, ensure_ascii=False)
