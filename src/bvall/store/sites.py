"""Sites are created on purpose: ``bvall site add``, the Sites page, or an explicit
``bvall db load --create-sites``. Anything else naming a site that does not exist (a new patient,
an import, an API call, ``bvall user add --site``) is refused with the list of the sites the
acting user may use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from bvall.errors import InputError
from bvall.store import access
from bvall.store.access_changes import record_access_change
from bvall.store.models import Site

#: A site code as it appears in patients.site_id.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


def known_sites_text(actor: Any) -> str:
    """The sites ``actor`` may use, for an error message."""
    codes = access.site_codes(actor)
    if access.is_command_line(actor):
        return (", ".join(codes) if codes else "none yet") + (
            " (add one with `bvall site add CODE --name NAME`, or load with --create-sites)"
        )
    return ", ".join(codes) if codes else "none (ask an administrator to give you a site)"


def unknown_sites(codes: Iterable[str]) -> list[str]:
    """Those of ``codes`` that are not sites of the study."""
    wanted = sorted({c for c in codes if c})
    existing = set(Site.objects.filter(code__in=wanted).values_list("code", flat=True))
    return [c for c in wanted if c not in existing]


def require_sites(actor: Any, codes: Iterable[str]) -> None:
    """Raise :class:`InputError` naming any of ``codes`` that is not a site, with the known ones
    (only those ``actor`` may use, so no other site is revealed)."""
    missing = unknown_sites(codes)
    if missing:
        raise InputError(
            f"Site {', '.join(repr(c) for c in missing)} is not a site of the study; "
            f"your sites: {known_sites_text(actor)}."
            + (
                ""
                if access.is_command_line(actor)
                else " An administrator adds sites on the Sites page or with `bvall site add`."
            )
        )


def add_site(actor: Any, code: str, name: str = "", *, reason: str = "") -> Site:
    """Create site ``code`` (administrators and the command line only); refuses an existing one."""
    access.require(actor, "manage_users")
    code = code.strip()
    if not CODE_PATTERN.match(code):
        raise InputError(
            f"Site code {code!r}: expected 1 to 40 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit (as in patients.site_id)."
        )
    name = name.strip()
    if len(name) > 200:
        raise InputError(f"Site name is {len(name)} characters long; at most 200.")
    reason = reason.strip() or "site added"
    with transaction.atomic():
        if Site.objects.filter(code=code).exists():
            raise InputError(f"Site {code!r} already exists.")
        site = Site(code=code, name=name)
        site._history_user = access.history_user(actor)
        site._change_reason = reason
        site.save()
        record_access_change(actor, "sites", code, "created", {}, {"name": name}, reason)
    return site


def rename_site(actor: Any, code: str, name: str, *, reason: str = "") -> Site:
    """Change a site's display name."""
    access.require(actor, "manage_users")
    with transaction.atomic():
        site = Site.objects.filter(code=code).first()
        if site is None:
            raise InputError(f"No site {code!r}.")
        before = site.name
        site.name = name.strip()[:200]
        site._history_user = access.history_user(actor)
        site._change_reason = reason or "site renamed"
        site.save()
        record_access_change(
            actor, "sites", code, "changed", {"name": before}, {"name": site.name}, reason
        )
    return site


def add_missing_sites(actor: Any, codes: Iterable[str], *, reason: str) -> list[str]:
    """Create every one of ``codes`` that does not exist yet (``bvall db load --create-sites``);
    returns those created."""
    created = []
    for code in unknown_sites(codes):
        add_site(actor, code, reason=reason)
        created.append(code)
    return created
