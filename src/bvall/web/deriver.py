"""The server's deriver: one low-priority process that keeps the derivations of the data current.

Deriving a patient whose data changed takes the engines seconds of CPU (building and running the
criteria engine's expressions, planning the regimen). Under ``bvall serve`` that work is done
here, in a process of its own started with the server, and never in the workers that answer
pages: the deriver watches the data (the append-only history tables, a cheap aggregate a few
times a second), and when they change it reads the database, derives the patients whose data
changed and publishes, in the server's private folder, one file per patient's derivation (named
by the SHA-256 of the patient's data) and an index: per patient, the data token it was derived
at and its file, and the time the data were read.

A page compares the patient's token now with the index's (:func:`bvall.web.derived.latest`):
equal, the derivation is current; different, the page shows the previous derivation with the
time it was derived from and says the data changed since, while the deriver catches up. The
user who has just saved waits for the current one (the page after a save asks for it). A
separate process, not a thread, because the engines are pure Python for much of that time and
a thread would hold the interpreter lock against the pages; ``nice`` keeps it behind them.

Run by ``bvall serve`` as ``python -m bvall.web.deriver --folder F --parent PID`` (the database
from ``BVALL_DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_log = logging.getLogger("bvall.web.deriver")

#: Set by ``bvall serve`` when its deriver runs: pages read its index instead of deriving.
DERIVER_ENV = "BVALL_DERIVER"
INDEX_NAME = "index.pickle"
#: Seconds between two looks at the data's version token when nothing changed.
POLL_SECONDS = 0.25
#: Niceness of the deriver (pages first; it still gets every idle cycle).
NICENESS = 10


@dataclass(frozen=True)
class Index:
    """What the deriver published last."""

    database: Any  # the database's name: an index is read only for its own database
    read_at: Any  # when the data were read (aware datetime)
    patients: dict[str, tuple[tuple[Any, ...], str]]  # patient -> (token, content key)


def folder() -> Path | None:
    """The folder the server's deriver publishes to, or ``None`` when no deriver runs."""
    from bvall.web.derived import SHARED_CACHE_ENV

    path = os.environ.get(SHARED_CACHE_ENV)
    if not path or os.environ.get(DERIVER_ENV) != "1" or not Path(path).is_dir():
        return None
    return Path(path)


PID_NAME = "deriver.pid"


def alive(where: Path) -> bool:
    """Whether the server's deriver process is running (its pid file names a live process).

    When it is not (it crashed, or was killed), pages derive for themselves as they do outside
    ``bvall serve``: slower under load, never wrong. Its error is in the server's log."""
    try:
        pid = int((where / PID_NAME).read_text())
    except (FileNotFoundError, ValueError):
        return False
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.parent.parent.is_dir():  # Linux: the number must still be the deriver, not reused
        try:
            return b"bvall.web.deriver" in proc.read_bytes()
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or the number is another user's
        return False
    return True


_INDEX: list[tuple[tuple[int, int, int], Index]] = []


def read_index(where: Path) -> Index | None:
    """The published index (re-read only when its file changed), or ``None`` before the first."""
    path = where / INDEX_NAME
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    if _INDEX and _INDEX[0][0] == stamp:
        return _INDEX[0][1]
    # written by this server's deriver into its private folder (mode 0700): never a file
    # from elsewhere
    with open(path, "rb") as fh:
        got = pickle.load(fh)
    if not isinstance(got, Index):
        return None
    _INDEX[:] = [(stamp, got)]
    return got


#: patient -> (content key, derivation): the latest read by this worker, one per patient, so
#: that an older one is freed as soon as a newer one is read (a key's file never changes).
_LOADED: dict[str, tuple[str, Any]] = {}


def load_patient(where: Path, patient_id: str, key: str) -> Any:
    """The derivation of a patient's data (``Derivations``) published under ``key``, or
    ``None`` when its file is gone (the data changed again and the deriver removed it)."""
    from bvall.web.derived import _read_shared

    hit = _LOADED.get(patient_id)
    if hit is not None and hit[0] == key:
        return hit[1]
    try:
        got = _read_shared(where, key)
    except FileNotFoundError:
        return None
    if got is not None:
        _LOADED[patient_id] = (key, got)
    return got


def publish(where: Path) -> Index:
    """Read the database, derive the patients whose data changed and publish the index.

    The tokens are read before the data: a save that lands in between makes the index's token
    older than the data it was derived from, so that patient is derived again on the next
    round and never shown as current with older values."""
    from django.db import connection
    from django.utils import timezone

    from bvall.web import derived

    read_at = timezone.now()
    tokens = derived.patient_tokens(None)
    snap = derived.database_snapshot()
    derived._ensure(snap, list(snap.patient_ids))
    for pid in snap.patient_ids:  # a patient derived before this folder was set, if any
        key = snap.patient_keys[pid]
        if not (where / f"{key}.pickle").exists():
            mine = derived._current(snap, pid)
            if mine is not None:
                derived._write_shared(where, key, mine)
    index = Index(
        connection.settings_dict.get("NAME"),
        read_at,
        {pid: (tokens.get(pid, ()), snap.patient_keys[pid]) for pid in snap.patient_ids},
    )
    tmp = where / f".{INDEX_NAME}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(index, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, where / INDEX_NAME)
    return index


def run(where: Path, parent: int, *, poll: float = POLL_SECONDS) -> None:
    """Publish whenever the data change, until the server (``parent``) is gone."""
    from bvall.web import derived

    last: tuple[Any, ...] | None = None
    while os.getppid() == parent:
        try:
            version = derived.data_version()
            if version == last:
                time.sleep(poll)
                continue
            t0 = time.perf_counter()
            index = publish(where)
            last = version
            _log.info(
                "published %d patient(s) in %.1f s", len(index.patients), time.perf_counter() - t0
            )
        except Exception:  # a failed round is logged and tried again; pages show the last one
            _log.exception("derivation failed; trying again in 5 s")
            from django.db import connections

            connections.close_all()
            time.sleep(5)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--folder", required=True, type=Path)
    ap.add_argument("--parent", required=True, type=int)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        os.nice(NICENESS)
    except OSError:  # not permitted here: run at the server's priority
        _log.warning("could not lower the deriver's priority")
    from bvall.store.database import setup

    setup()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C in the server's terminal
        run(args.folder, args.parent)


if __name__ == "__main__":
    # run as the module bvall.web.deriver, not as __main__: what it pickles (Index) must be
    # importable under its own name by the workers that read it
    from bvall.web.deriver import main as _main

    _main()
