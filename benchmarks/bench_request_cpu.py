"""Server CPU per request, by kind of request, on a fresh `bvall serve` (example cohort).

    uv run python benchmarks/bench_request_cpu.py [--database sqlite|postgres] [--n 60]

One client sends the requests one after another, so nothing waits for the CPU and the figures
are the work each request costs the server, whatever else the machine is doing (under
``load.py`` that work is what the clients queue for). The CPU is read from ``/proc`` (Linux): the
user and system time of every process of the server's process group (the master and its
workers) and, on PostgreSQL, of the database server's processes. Each figure is the CPU of ``--n``
requests divided by ``--n``, printed with its ratio to ``GET /healthz`` (a request that does no
work) measured in the same run.

Kinds: an unchanged patient page (the 13 patients in turn); a day's labs saved through the API
(one value, alerts raised in the save's transaction); a save followed by three pages of that
patient (the workers that show the patient derive it again); the cohort list.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from livestack import LiveServer, postgres_database, query
from load import Client

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _cpu_ms(pids: list[int]) -> dict[int, float]:
    """User + system CPU (ms) of each of ``pids`` that exists."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) * TICK_MS  # utime, stime (14 and 15)
    return out


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two readings: by the processes in both, and all of a process started
    in between (a process that ended in between is not counted: a database connection closed,
    rarely)."""
    return sum(ms - before.get(pid, 0.0) for pid, ms in after.items())


def _group(pgid: int) -> list[int]:
    """The processes of process group ``pgid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                out.append(int(entry.name))
    return out


def _postgres() -> list[int]:
    """PostgreSQL's processes on this machine (their command lines start with ``postgres``)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"postgres"):
                out.append(int(entry.name))
    return out


def measure(server: LiveServer, n: int, postgres: bool) -> list[tuple[str, float, float, float]]:
    """(kind, server CPU ms per request, database CPU ms per request, median wall ms)."""
    if server.proc is None or not server.admin_password:
        raise RuntimeError("the server must have been started on a new database")
    token = server.token()
    patients = [r[0] for r in query(server.database, "SELECT patient_id FROM patients ORDER BY 1")]
    client = Client(server.url, "admin", server.admin_password, token)
    for pid in patients * 2:  # every patient derived in both workers: the steady state
        client.request("GET", f"/patients/{pid}/")
    days = itertools.count(300)
    auth = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def get(path: str) -> None:
        status, _ = client.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}")

    def save(pid: str) -> None:
        body = json.dumps({"study_day": next(days), "reason": "benchmark",
                           "labs": [{"test": "anc", "value": 0.4, "unit": "10^9/L"}]})  # fmt: skip
        status, text = client.request("POST", f"/api/patients/{pid}/labs", body, auth)
        if status != 201:
            raise RuntimeError(f"save: HTTP {status}: {text[:300]}")

    def save_and_pages(pid: str) -> None:
        save(pid)
        for _ in range(3):
            get(f"/patients/{pid}/")

    kinds: list[tuple[str, Callable[[int], None]]] = [
        ("GET /healthz (baseline)", lambda i: get("/healthz")),
        (
            "patient page, data unchanged",
            lambda i: get(f"/patients/{patients[i % len(patients)]}/"),
        ),
        ("save a day's labs (API)", lambda i: save(patients[i % len(patients)])),
        (
            "save, then 3 pages of that patient",
            lambda i: save_and_pages(patients[i % len(patients)]),
        ),
        ("cohort list", lambda i: get("/")),
    ]
    out = []
    for label, run in kinds:
        c0 = _cpu_ms(_group(server.proc.pid))
        d0 = _cpu_ms(_postgres()) if postgres else {}
        walls = []
        for i in range(n):
            t = time.perf_counter()
            run(i)
            walls.append(time.perf_counter() - t)
        time.sleep(0.2)  # let the last response's work be accounted
        walls.sort()
        server_ms = _spent(c0, _cpu_ms(_group(server.proc.pid)))
        db_ms = _spent(d0, _cpu_ms(_postgres())) if postgres else 0.0
        out.append((label, server_ms / n, db_ms / n, walls[n // 2] * 1000))
    client.close()
    return out


@contextmanager
def _server(database: str, home: Path, workers: int, threads: int) -> Iterator[LiveServer]:
    def start(url: str) -> LiveServer:
        return LiveServer(home, url, workers=workers, threads=threads).start()

    if database == "sqlite":
        srv = start(f"sqlite:///{home / 'bvall.db'}")
        try:
            yield srv
        finally:
            srv.stop()
        return
    admin = os.environ.get("BVALL_TEST_POSTGRES_URL")
    if not admin:
        sys.exit("Set BVALL_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres).")
    with postgres_database(admin) as url:
        srv = start(url)
        try:
            yield srv
        finally:
            srv.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--n", type=int, default=60, help="Requests of each kind.")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    args = ap.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bvall-cpu-") as tmp,
        _server(args.database, Path(tmp), args.workers, args.threads) as srv,
    ):
        rows = measure(srv, args.n, args.database == "postgres")
    base = rows[0][1] or 1.0
    print(
        f"{args.database}, workers={args.workers} threads={args.threads}, n={args.n}; "
        f"load average {os.getloadavg()[0]:.1f}; CPU ms per request"
    )
    print(f"{'request':38} {'server':>7} {'database':>9} {'÷ healthz':>10} {'wall p50':>9}")
    for label, cpu, db, wall in rows:
        print(f"{label:38} {cpu:7.1f} {db:9.1f} {cpu / base:10.1f} {wall:9.1f}")


if __name__ == "__main__":
    main()
