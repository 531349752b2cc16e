"""Who may do what, and which rows each user sees: the one queryset layer.

Every page, API call and admin screen gets its rows through :func:`visible` /
:func:`visible_patients` / :func:`visible_history`, and its permission through :func:`can` /
:func:`require`. A user sees the patients of their sites, or every patient (and patients without a
site) when granted all sites. A patient outside a user's sites is answered exactly as a patient
that does not exist, so identifiers cannot be probed by guessing URLs.

| action        | admin | investigator | data_entry | monitor |
|---------------|:-----:|:------------:|:----------:|:-------:|
| view          |   ✓   |      ✓       |     ✓      |    ✓    |
| edit          |   ✓   |      ✓       |     ✓      |         |
| import        |   ✓   |      ✓       |     ✓      |         |
| analysis      |   ✓   |      ✓       |            |    ✓    |
| audit         |   ✓   |      ✓       |            |    ✓    |
| manage_users  |   ✓   |              |            |         |

The command line (``bvall db load``, ``bvall user add``, ``bvall site add``) acts as
:data:`COMMAND_LINE`: an administrator of every site whose writes still go through the same gate
(:mod:`bvall.store.gate`: known sites only, a reason in the audit trail) and are recorded with no
web user, shown as "command line" in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models

from bvall.store.models import COHORT_MODELS, Patient, Profile, Site

__all__ = [
    "COMMAND_LINE",
    "PERMISSIONS",
    "CommandLine",
    "PermissionDenied",
    "can",
    "can_use_site",
    "history_user",
    "is_command_line",
    "permissions",
    "require",
    "role_of",
    "sees_all_sites",
    "site_codes",
    "visible",
    "visible_history",
    "visible_patient_ids",
    "visible_patients",
]

PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset({"admin", "investigator", "data_entry", "monitor"}),
    "edit": frozenset({"admin", "investigator", "data_entry"}),
    "import": frozenset({"admin", "investigator", "data_entry"}),
    "analysis": frozenset({"admin", "investigator", "monitor"}),
    "audit": frozenset({"admin", "investigator", "monitor"}),
    "manage_users": frozenset({"admin"}),
}

#: what each action lets a person do, as the end of "Your role (...) may not ..."
ACTION_WORDS: dict[str, str] = {
    "view": "see patient data",
    "edit": "enter or change data",
    "import": "import files",
    "analysis": "see the analysis",
    "audit": "read the audit log",
    "manage_users": "manage users and sites",
}


@dataclass(frozen=True)
class CommandLine:
    """The acting user of a command run on the server (an administrator of every site)."""

    username: str = "command line"
    is_authenticated: bool = False
    is_active: bool = True

    def __str__(self) -> str:
        return self.username


#: The actor of every write made from the command line.
COMMAND_LINE = CommandLine()


def is_command_line(user: Any) -> bool:
    return isinstance(user, CommandLine)


def history_user(user: Any) -> Any:
    """The user an audit row names: the web user, or None for the command line."""
    return None if is_command_line(user) else user


def _profile(user: Any) -> Profile | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    cached = getattr(user, "_bvall_profile", None)
    if cached is not None:
        return cached
    try:
        profile = Profile.objects.get(user=user)
    except Profile.DoesNotExist:
        return None
    user._bvall_profile = profile
    return profile


def role_of(user: Any) -> str | None:
    """The user's role, or None (anonymous, inactive, or no profile: no access at all)."""
    if is_command_line(user):
        return "admin"
    profile = _profile(user)
    return profile.role if profile else None


def can(user: Any, action: str) -> bool:
    """Whether ``user`` may do ``action`` (see the table in the module docstring)."""
    if action not in PERMISSIONS:
        raise ValueError(f"internal: unknown action {action!r}")
    role = role_of(user)
    return role is not None and role in PERMISSIONS[action]


def permissions(user: Any) -> dict[str, bool]:
    """Whether ``user`` may do each action (the pages show only what the user may do)."""
    return {action: can(user, action) for action in PERMISSIONS}


def require(user: Any, action: str) -> None:
    """Raise :class:`PermissionDenied` unless ``user`` may do ``action``."""
    if not can(user, action):
        role = role_of(user) or "no role"
        raise PermissionDenied(f"Your role ({role}) may not {ACTION_WORDS[action]}.")


def sees_all_sites(user: Any) -> bool:
    if is_command_line(user):
        return True
    profile = _profile(user)
    return bool(profile and profile.all_sites)


def site_codes(user: Any) -> list[str]:
    """Codes of the user's sites (every site for a user granted all)."""
    profile = _profile(user)
    if is_command_line(user) or (profile is not None and profile.all_sites):
        return list(Site.objects.order_by("code").values_list("code", flat=True))
    if profile is None:
        return []
    return [s.code for s in profile.sites.all()]


def can_use_site(user: Any, code: str | None) -> bool:
    """Whether the user may record a patient at site ``code`` (None: no site)."""
    if sees_all_sites(user):
        return True
    return code is not None and code in site_codes(user)


def visible_patients(user: Any) -> models.QuerySet[Any]:
    """The patients ``user`` may see (none without a role)."""
    if is_command_line(user):
        return Patient.objects.all()
    profile = _profile(user)
    if profile is None:
        return Patient.objects.none()
    if profile.all_sites:
        return Patient.objects.all()
    return Patient.objects.filter(site_id__in=profile.sites.values("code"))


def visible_patient_ids(user: Any) -> list[str]:
    return list(visible_patients(user).values_list("patient_id", flat=True))


def visible(user: Any, table: str) -> models.QuerySet[Any]:
    """Rows of cohort table ``table`` that ``user`` may see."""
    model = COHORT_MODELS[table]
    if table == "patients":
        return visible_patients(user)
    if is_command_line(user):
        return model.objects.all()
    profile = _profile(user)
    if profile is None:
        return model.objects.none()
    if profile.all_sites:
        return model.objects.all()
    ids = visible_patients(user).values("patient_id")
    return model.objects.filter(patient_id__in=ids)


def visible_history(user: Any, table: str) -> models.QuerySet[Any]:
    """Audit rows of ``table`` that ``user`` may see.

    A deleted patient's rows stay visible to the users of the site the patient was last
    recorded at (read from the patient's own history).
    """
    history = COHORT_MODELS[table].history.model
    if is_command_line(user):
        return history.objects.all()
    profile = _profile(user)
    if profile is None:
        return history.objects.none()
    if profile.all_sites:
        return history.objects.all()
    patient_history = Patient.history.model
    sites = list(profile.sites.values_list("code", flat=True))
    current = Patient.objects.filter(site__in=sites).values("patient_id")
    deleted = patient_history.objects.filter(history_type="-", site_id__in=sites).values(
        "patient_id"
    )
    return history.objects.filter(
        models.Q(patient_id__in=current) | models.Q(patient_id__in=deleted)
    )
