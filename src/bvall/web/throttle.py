"""Login throttling (django-axes): per user name and address, and per address alone.

django-axes counts failed logins for each set of :data:`AXES_LOCKOUT_PARAMETERS` (here one user
name from one address, and one address whatever the user names) and compares the largest count
with one failure limit. :func:`failure_limit` gives each set its own limit:
``BVALL_LOGIN_FAILURES_PER_USER`` failures for one user name from one address (guessing one
account's password), ``BVALL_LOGIN_FAILURES_PER_ADDRESS`` from one address in all (password
spraying: a few guesses at each of many accounts). The address limit is higher because many
people of one hospital can share an address; both hold for ``AXES_COOLOFF_TIME``.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum


def _failures(qs: Any) -> int:
    return int(qs.aggregate(n=Sum("failures_since_start"))["n"] or 0)


def failure_limit(request: Any, credentials: Any) -> int:
    """The limit django-axes compares the address's failure count with (see module docstring)."""
    per_user = settings.BVALL_LOGIN_FAILURES_PER_USER
    per_address = settings.BVALL_LOGIN_FAILURES_PER_ADDRESS
    if getattr(request, "axes_ip_address", None) is None:
        return per_user
    pair, address = AxesDatabaseHandler().get_user_attempts(request, credentials)
    if _failures(pair) >= per_user:
        # django-axes locks when its count (the address's, the largest) reaches the limit
        return max(1, _failures(address))
    return per_address
