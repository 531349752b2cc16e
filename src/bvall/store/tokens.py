"""API tokens: random bearer tokens stored only as SHA-256 hashes, shown to their owner once."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from bvall.errors import InputError
from bvall.store import access
from bvall.store.access_changes import record_access_change
from bvall.store.models import ApiToken

PREFIX = "bvall_"


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _subject(token: ApiToken) -> str:
    return f"{token.name} ({token.prefix}…) of {token.user.username}"


def create_token(user: Any, name: str, *, actor: Any = None) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the stored row and the token text (shown once).

    ``actor`` is who creates it (default ``user`` itself; the command line for `bvall user
    token`); the creation is recorded in the access changes.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise InputError(f"Token name {name!r}: expected 1 to 100 characters (what it is for).")
    raw = PREFIX + secrets.token_urlsafe(32)
    actor = user if actor is None else actor
    with transaction.atomic():
        token = ApiToken(user=user, name=name, prefix=raw[:12], key_hash=_hash(raw))
        token._history_user = access.history_user(actor)
        token._change_reason = "token created"
        token.save()
        record_access_change(
            actor, "api_tokens", _subject(token), "created", {}, {"name": name}, "token created"
        )
    return token, raw


def user_for_token(raw: str) -> Any:
    """The active user a valid, unrevoked token belongs to, else None."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user").filter(key_hash=_hash(raw), revoked=None).first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used is None or (now - token.last_used).total_seconds() > 300:
        # coarse, so a busy client does not write on every request
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
    return token.user


def revoke_token(user: Any, token_id: int) -> None:
    """Revoke one of ``user``'s tokens (kept, marked revoked, for the record)."""
    token = ApiToken.objects.filter(user=user, pk=token_id, revoked=None).first()
    if token is None:
        raise InputError(f"No active token {token_id} of yours.")
    with transaction.atomic():
        token.revoked = timezone.now()
        token._history_user = user
        token._change_reason = "revoked by its owner"
        token.save()
        record_access_change(
            user,
            "api_tokens",
            _subject(token),
            "revoked",
            {"revoked": ""},
            {"revoked": token.revoked.isoformat(timespec="seconds")},
            "revoked by its owner",
        )
