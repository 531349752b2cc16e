"""One place for configuration read from the environment.

Every setting has a default that works on a laptop with no configuration at all. The Django
settings (``bvall.web.settings``) and the CLI read these values; nothing else reads ``os.environ``.

| variable              | meaning                                                   | default               |
|-----------------------|-----------------------------------------------------------|-----------------------|
| ``BVALL_HOME``        | folder for the database, backups and generated reports    | current directory     |
| ``BVALL_DATABASE_URL``| database URL (``sqlite:///path`` or ``postgres://...``)    | ``sqlite:///<home>/bvall.db`` |
| ``BVALL_SECRET_KEY``  | Django secret key; generated and kept in ``<home>/.bvall-secret`` when unset | generated |
| ``BVALL_DEBUG``       | ``1`` turns on Django debug pages (never in production)   | ``0``                 |
| ``BVALL_ALLOWED_HOSTS`` | comma-separated host names the web app answers to      | ``127.0.0.1,localhost`` |
| ``BVALL_SECURE_COOKIES`` | ``1`` marks session and CSRF cookies Secure (HTTPS only) | ``0``              |
| ``BVALL_SESSION_HOURS`` | hours a web session lasts without logging in again       | ``12``                |
| ``BVALL_IMPORT_MAX_MB`` | megabytes an import may upload, per file and per request | ``20``                |
| ``BVALL_IMPORT_MAX_ROWS`` | data rows an import may hold (per table)               | ``50000``             |
| ``BVALL_IMPORT_MAX_PROBLEMS`` | problems an import report lists (the rest are counted) | ``200``          |
| ``BVALL_PLAN_CACHE``  | folder of the criteria engine's compiled plans; ``off`` keeps them in memory only | ``$XDG_CACHE_HOME/bvall/plans`` (``~/.cache/bvall/plans``) |

A command-line ``--database URL`` overrides ``BVALL_DATABASE_URL`` through
:func:`load_settings` (``database_url=``) and :func:`activate`, so the web app and the store read
one resolved :class:`Settings` for the whole process (:func:`active_settings`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from bvall.errors import ConfigurationError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a flag; expected 1/0, true/false, yes/no.")


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one bvall process."""

    home: Path
    database_url: str
    debug: bool
    allowed_hosts: tuple[str, ...]
    secure_cookies: bool
    session_hours: int = 12
    import_max_mb: int = 20
    import_max_rows: int = 50_000
    import_max_problems: int = 200

    @property
    def import_max_bytes(self) -> int:
        return self.import_max_mb * 1024 * 1024

    @property
    def secret_key(self) -> str:
        """The Django secret key: ``BVALL_SECRET_KEY`` or one generated once per home folder."""
        key = os.environ.get("BVALL_SECRET_KEY")
        if key:
            return key
        path = self.home / ".bvall-secret"
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        self.home.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key, encoding="utf-8")
        path.chmod(0o600)
        return key


def _whole(name: str, default: int, low: int, high: int, what: str) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ConfigurationError(f"{name}={raw!r} is not {what}; expected {low} to {high}.")
    return value


def _hours(name: str, default: int) -> int:
    return _whole(name, default, 1, 24 * 30, "a number of hours")


def load_settings(database_url: str | None = None) -> Settings:
    """Read the environment into :class:`Settings` (see the module docstring for variables).

    ``database_url`` (the ``--database`` option) overrides ``BVALL_DATABASE_URL``.
    """
    home = Path(os.environ.get("BVALL_HOME", ".")).expanduser().resolve()
    url = database_url or os.environ.get("BVALL_DATABASE_URL") or f"sqlite:///{home / 'bvall.db'}"
    hosts = os.environ.get("BVALL_ALLOWED_HOSTS", "127.0.0.1,localhost")
    return Settings(
        home=home,
        database_url=url,
        debug=_flag("BVALL_DEBUG", False),
        allowed_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()),
        secure_cookies=_flag("BVALL_SECURE_COOKIES", False),
        session_hours=_hours("BVALL_SESSION_HOURS", 12),
        import_max_mb=_whole("BVALL_IMPORT_MAX_MB", 20, 1, 1024, "a number of megabytes"),
        import_max_rows=_whole("BVALL_IMPORT_MAX_ROWS", 50_000, 1, 10_000_000, "a number of rows"),
        import_max_problems=_whole(
            "BVALL_IMPORT_MAX_PROBLEMS", 200, 1, 100_000, "a number of problems"
        ),
    )


def plan_cache_dir() -> Path | None:
    """The folder of the criteria engine's compiled plans (``BVALL_PLAN_CACHE``), or None when
    set to ``off`` (plans are then built once per process)."""
    raw = os.environ.get("BVALL_PLAN_CACHE")
    if raw is not None and raw.strip().lower() in {"off", "0", "no", "false", "none"}:
        return None
    if raw and raw.strip():
        return Path(raw.strip()).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "bvall" / "plans"


_active: Settings | None = None


def activate(settings: Settings) -> None:
    """Make ``settings`` the configuration of this process (before the web app starts)."""
    global _active
    _active = settings


def active_settings() -> Settings:
    """The configuration of this process: the activated one, else read from the environment."""
    return _active if _active is not None else load_settings()
