"""A real bvall server for load and fault checks: `bvall serve` in a subprocess on loopback.

Used by ``benchmarks/load.py`` and by the live tests (browser, fault, shortened load). Every
server listens on 127.0.0.1 on a free port; PostgreSQL databases are created and dropped here.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-c", "from bvall.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(home: Path, *args: str) -> str:
    """Run a bvall command with ``BVALL_HOME=home``; returns its output (raises on failure)."""
    env = {**os.environ, "BVALL_HOME": str(home), "BVALL_SECRET_KEY": "live-test-" + home.name}
    out = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"bvall {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


@dataclass
class LiveServer:
    """`bvall serve` on a database URL; first start creates it and prints the admin password."""

    home: Path
    database: str
    port: int = field(default_factory=free_port)
    workers: int = 2
    threads: int = 4
    proc: subprocess.Popen[str] | None = None
    admin_password: str | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300.0) -> LiveServer:
        self.home.mkdir(parents=True, exist_ok=True)
        self.log = self.home / f"serve-{self.port}-{int(time.time() * 1000)}.log"
        env = {
            **os.environ,
            "BVALL_HOME": str(self.home),
            "BVALL_SECRET_KEY": "live-test-" + self.home.name,
        }
        with open(self.log, "w") as fh:
            self.proc = subprocess.Popen(
                [*CLI, "serve", "--database", self.database, "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers), "--threads", str(self.threads), "--no-access-log"],
                env=env, stdout=fh, stderr=subprocess.STDOUT, text=True,
                start_new_session=True,  # its own process group, so kill() reaches the workers
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bvall serve exited:\n{self.log.read_text()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.url + "/healthz", timeout=2) as r,
            ):
                if r.status == 200:
                    break
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(
                f"bvall serve did not answer in {timeout} s:\n{self.log.read_text()}"
            )
        m = re.search(r"with password (\S+)", self.log.read_text())
        if m:
            self.admin_password = m.group(1)
        return self

    def kill(self) -> None:
        """SIGKILL the whole server (master and workers) at once, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)

    def token(self, username: str = "admin") -> str:
        out = run_cli(self.home, "user", "token", username, "--database", self.database)
        m = re.search(r"token (bvall_\S+)", out)
        if not m:
            raise RuntimeError(out)
        return m.group(1)


# --- databases ---------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``admin_url``; dropped afterwards."""
    import psycopg

    name = "bvall_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def query(database: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run a read query directly on the database (sqlite:///path or postgres://...)."""
    if database.startswith("sqlite:///"):
        path = database[len("sqlite:///") :]
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql.replace("%s", "?"), params).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(database) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
