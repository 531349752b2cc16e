"""Accounts: creating users, changing their role, sites and all-sites grant, new passwords.

Every change is recorded in the access changes (:mod:`bvall.store.access_changes`) with the
acting user (or the command line) and the reason; sites must exist (:mod:`bvall.store.sites`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from bvall.errors import InputError
from bvall.store import access
from bvall.store.access_changes import record_access_change
from bvall.store.models import ROLES, Profile, Site
from bvall.store.sites import require_sites


def random_password() -> str:
    """A random password (about 100 bits) that is easy to type: groups of letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(6)) for _ in range(3))


@dataclass(frozen=True)
class NewAccount:
    username: str
    password: str


def _check_role(role: str) -> None:
    roles = [r for r, _ in ROLES]
    if role not in roles:
        raise InputError(f"Role {role!r} is not known; expected one of {', '.join(roles)}.")


def _state(user: Any, profile: Profile) -> dict[str, Any]:
    return {
        "role": profile.role,
        "all_sites": profile.all_sites,
        "sites": sorted(profile.sites.values_list("code", flat=True)),
        "active": user.is_active,
        "email": user.email,
    }


def create_user(
    username: str,
    role: str,
    *,
    sites: Iterable[str] = (),
    all_sites: bool = False,
    email: str = "",
    password: str | None = None,
    actor: Any = access.COMMAND_LINE,
    reason: str = "",
) -> NewAccount:
    """Create a user with a role and (existing) sites; returns the (random unless given)
    password once. ``actor`` is who creates it (an administrator, or the command line)."""
    access.require(actor, "manage_users")
    _check_role(role)
    codes = tuple(dict.fromkeys(sites))
    require_sites(actor, codes)
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise InputError(f"User {username!r} already exists; choose another name.")
    password = password or random_password()
    with transaction.atomic():
        user = user_model.objects.create_user(username=username, email=email, password=password)
        user.is_staff = role == "admin"
        user.is_superuser = role == "admin"
        user.save()
        profile = Profile(user=user, role=role, all_sites=all_sites or role == "admin")
        profile._history_user = access.history_user(actor)
        profile._change_reason = reason or "account created"
        profile.save()
        profile.sites.set(Site.objects.filter(code__in=codes))
        record_access_change(
            actor,
            "profiles",
            username,
            "created",
            {},
            _state(user, profile),
            reason or "account created",
        )
    return NewAccount(username, password)


def update_user(
    actor: Any,
    user: Any,
    *,
    role: str,
    sites: Iterable[str],
    all_sites: bool,
    active: bool,
    email: str = "",
    reason: str = "",
) -> bool:
    """Change a user's role, sites, all-sites grant, active flag and e-mail; returns whether
    anything changed."""
    access.require(actor, "manage_users")
    _check_role(role)
    codes = tuple(dict.fromkeys(sites))
    require_sites(actor, codes)
    if user == actor and (role != "admin" or not active):
        raise InputError("You cannot remove your own administrator role or deactivate yourself.")
    with transaction.atomic():
        profile, _ = Profile.objects.get_or_create(user=user)
        before = _state(user, profile)
        user.email = email
        user.is_active = active
        user.is_staff = user.is_superuser = role == "admin"
        user.save()
        profile.role = role
        profile.all_sites = all_sites or role == "admin"
        profile._history_user = access.history_user(actor)
        profile._change_reason = reason or f"edited by {actor.username}"
        profile.save()
        profile.sites.set(Site.objects.filter(code__in=codes))
        after = _state(user, profile)
        record_access_change(
            actor,
            "profiles",
            user.username,
            "changed",
            before,
            after,
            reason or f"edited by {actor.username}",
        )
    return before != after


def set_password(username: str, password: str | None = None, *, actor: Any = None) -> NewAccount:
    """Give ``username`` a new (random unless given) password; returns it once."""
    user_model = get_user_model()
    try:
        user = user_model.objects.get(username=username)
    except user_model.DoesNotExist:
        raise InputError(f"No user {username!r}.") from None
    password = password or random_password()
    with transaction.atomic():
        user.set_password(password)
        user.save()
        record_access_change(
            actor if actor is not None else access.COMMAND_LINE,
            "profiles",
            username,
            "password reset",
            {},
            {},
            "new password issued",
        )
    return NewAccount(username, password)
