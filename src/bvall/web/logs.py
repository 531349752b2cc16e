"""The server's log: a refused request is one line (who, where, why), not a traceback.

Django logs every 403 on ``django.request`` with the exception's traceback. A refusal is the
app doing its job, so :class:`RefusalFilter` turns such a record into one line:
``refused user=<username> path=<path> reason=<the message shown to the user>``.
"""

from __future__ import annotations

import logging
from typing import Any

REFUSED = (401, 403)


def describe_refusal(request: Any, exc: BaseException | None) -> str:
    """One log line for a refused request: the user (or "anonymous"), the path, the reason."""
    user = getattr(request, "user", None)
    name = user.get_username() if user is not None and user.is_authenticated else "anonymous"
    path = getattr(request, "path", "?")
    reason = str(exc) if exc is not None and str(exc) else "not allowed"
    return f"refused user={name} path={path} reason={reason}"


class RefusalFilter(logging.Filter):
    """Rewrite ``django.request`` records of refused requests as one line, without traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) in REFUSED:
            exc = record.exc_info[1] if record.exc_info else None
            record.msg = describe_refusal(getattr(record, "request", None), exc)
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True
