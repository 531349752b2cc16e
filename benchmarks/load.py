"""Load check: concurrent clients read patient pages and save labs on a live `bvall serve`.

    uv run python benchmarks/load.py --database sqlite --clients 20 --seconds 60
    uv run python benchmarks/load.py --database postgres --clients 20 --seconds 60   # needs BVALL_TEST_POSTGRES_URL

Each client logs in (session cookie) and loops: 4 of 5 requests GET a patient page, 1 of 5 POSTs
a day's labs (3 values) through the API. It prints p50/p95 latency per request kind and
requests/s, then checks that every acknowledged write is in the database with exactly one
matching audit row (same value, same reason). Everything runs on 127.0.0.1; the run is bounded by
--seconds. It also counts *stale* pages: a patient page whose derived grades stop at an earlier
day than the lab values it shows (the latest day in the grades panel, "latest … (Dn)", against
the latest day in the lab table's header); pages lacking either mark are counted as unchecked.
Targets: patient page p95 ≤ 150 ms, 0 stale pages.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from livestack import LiveServer, postgres_database, query

#: The days of the derived grades on a patient page ("latest <term> (D12 ...)", grades panel)
DERIVED_DAY = re.compile(r"latest [^<(]+\(D(-?\d+)")
#: The days of the lab values shown (the header of the lab table: one column per time point)
DATA_DAY = re.compile(r'<th class="num">D(-?\d+)')


def page_is_stale(text: str) -> bool | None:
    """Whether the page's derived grades stop before the lab values it shows (None: no marks)."""
    derived = [int(d) for d in DERIVED_DAY.findall(text)]
    data = [int(d) for d in DATA_DAY.findall(text)]
    if not derived or not data:
        return None
    return max(derived) < max(data)


#: Seconds a client waits for an answer before it counts an error.
TIMEOUT = 120


@dataclass
class Ack:
    ids: list[int]
    patient: str
    day: int
    values: list[float]


@dataclass
class LoadResult:
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"healthz": [], "page": [], "write": []}
    )
    errors: list[str] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    stale: int = 0
    unchecked: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seconds": round(self.seconds, 1), "errors": len(self.errors)}
        total = 0
        for kind, lat in self.latencies.items():
            if kind != "healthz":
                total += len(lat)
            if lat:
                qs = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
                out[kind] = {
                    "n": len(lat),
                    "p50_ms": round(qs[49] * 1000, 1),
                    "p95_ms": round(qs[94] * 1000, 1),
                    "max_ms": round(max(lat) * 1000, 1),
                }
        out["requests_per_s"] = round(total / self.seconds, 1) if self.seconds else 0.0
        pages = len(self.latencies["page"])
        if pages:
            out["stale_pages"] = self.stale
            out["unchecked_pages"] = self.unchecked
        if "healthz" in out and "page" in out:
            # the baseline: a request that does no work, under the same concurrency and load
            out["page_p95_over_healthz_p95"] = round(
                out["page"]["p95_ms"] / max(out["healthz"]["p95_ms"], 0.1), 1
            )
        return out


class Client:
    """One keep-alive HTTP connection with a session cookie (logged in) and an API token."""

    def __init__(self, base: str, username: str, password: str, token: str) -> None:
        u = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)
        self.cookies: dict[str, str] = {}
        self.token = token
        page = self.request("GET", "/login/")[1]
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert csrf, "no CSRF token on the login page"
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": csrf.group(1), "username": username, "password": password}
        )
        status, _ = self.request(
            "POST",
            "/login/",
            body,
            {"Content-Type": "application/x-www-form-urlencoded", "Referer": base + "/login/"},
        )
        if status != 302:
            raise RuntimeError(f"login failed with HTTP {status}")

    def close(self) -> None:
        self.conn.close()

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # the server closed an idle keep-alive connection: reconnect once, as browsers do
            # (a repeated lab POST would be refused as a duplicate, never written twice)
            self.conn.close()
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
        data = r.read().decode("utf-8", "replace")
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return r.status, data


_day = itertools.count(100)
_day_lock = threading.Lock()


def _next_day() -> int:
    with _day_lock:
        return next(_day)


def _client_loop(
    base: str,
    password: str,
    token: str,
    patients: list[str],
    window: list[float],
    ready: threading.Barrier,
    result: LoadResult,
    lock: threading.Lock,
    n: int,
    think: float = 0.0,
    write_every: int = 5,
) -> None:
    try:
        c = Client(base, "admin", password, token)
    except Exception as exc:
        with lock:
            result.errors.append(f"login: {exc}")
        ready.abort()
        return
    # measure the steady state: every client has logged in (Argon2 is slow on purpose) and seen
    # one page (the server derives the data once as it starts; that is not the steady state)
    try:
        c.request("GET", f"/patients/{patients[n % len(patients)]}/")
    except Exception as exc:
        with lock:
            result.errors.append(f"first page: {exc}")
    if ready.wait() == 0:
        window[0] = time.monotonic()
    ready.wait()
    baseline_until = window[0] + window[2]
    while time.monotonic() < baseline_until:
        t0 = time.perf_counter()
        try:
            status, _ = c.request("GET", "/healthz")
        except Exception as exc:
            with lock:
                result.errors.append(f"healthz: {exc}")
            c.close()  # a broken connection is not reused: log in again
            try:
                c = Client(base, "admin", password, token)
            except Exception:
                return
            continue
        dt = time.perf_counter() - t0
        with lock:
            result.latencies["healthz"].append(dt)
    stop_at = window[0] + window[2] + window[1]
    i = n
    while time.monotonic() < stop_at:
        if think:
            time.sleep(think)
        i += 1
        pid = patients[i % len(patients)]
        try:
            # the first request of each client is a save, then every write_every-th
            if write_every and (i - n - 1) % write_every == 0:
                day = _next_day()
                values = [
                    round(0.1 + (day % 50) / 10, 2),
                    float(20 + day % 200),
                    float(80 + day % 60),
                ]
                body = json.dumps({
                    "study_day": day, "reason": "load test",
                    "labs": [{"test": t, "value": v, "unit": u} for t, v, u in zip(("anc", "platelets", "hemoglobin"), values, ("10^9/L", "10^9/L", "g/L"), strict=True)],
                })  # fmt: skip
                t0 = time.perf_counter()
                status, text = c.request(
                    "POST",
                    f"/api/patients/{pid}/labs",
                    body,
                    {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                )
                dt = time.perf_counter() - t0
                with lock:
                    if status == 201:
                        result.latencies["write"].append(dt)
                        result.acks.append(Ack(json.loads(text)["ids"], pid, day, values))
                    else:
                        result.errors.append(f"write {status}: {text[:200]}")
            else:
                t0 = time.perf_counter()
                status, text = c.request("GET", f"/patients/{pid}/")
                dt = time.perf_counter() - t0
                stale = page_is_stale(text) if status == 200 else None
                with lock:
                    if status == 200 and pid in text:
                        result.latencies["page"].append(dt)
                        if stale is None:
                            result.unchecked += 1
                        elif stale:  # derived grades older than the data beside them
                            result.stale += 1
                    else:
                        result.errors.append(f"page {status}")
        except Exception as exc:
            with lock:
                result.errors.append(f"{type(exc).__name__}: {exc}")
            c.close()
            try:
                c = Client(base, "admin", password, token)
            except Exception:
                return
    c.close()


def run_load(
    server: LiveServer, clients: int, seconds: float, think: float = 0.0, write_every: int = 5
) -> LoadResult:
    """Drive ``server`` with ``clients`` threads for ``seconds`` (bounded)."""
    assert server.admin_password, "the server must have been started on a new database"
    token = server.token()
    patients = [
        r[0] for r in query(server.database, "SELECT patient_id FROM patients ORDER BY patient_id")
    ]
    result = LoadResult()
    lock = threading.Lock()
    # start (set once all clients are logged in), length of the measured run, baseline before it
    window = [0.0, seconds, max(1.0, seconds / 6)]
    ready = threading.Barrier(clients)
    threads = [
        threading.Thread(
            target=_client_loop,
            args=(
                server.url,
                server.admin_password,
                token,
                patients,
                window,
                ready,
                result,
                lock,
                n,
                think,
                write_every,
            ),
            daemon=True,
        )
        for n in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    result.seconds = time.monotonic() - window[0] - window[2] if window[0] else 0.0
    return result


def verify_writes(database: str, acks: list[Ack]) -> list[str]:
    """Every acknowledged lab is stored with its value, and has one insert audit row matching it."""
    problems = []
    ids = [i for a in acks for i in a.ids]
    if not ids:
        return ["no acknowledged writes"]
    stored = {
        r[0]: r[1:]
        for r in query(
            database, "SELECT id, patient_id, study_day, value FROM labs WHERE study_day >= 100"
        )
    }
    audit: dict[int, list[tuple[Any, ...]]] = {}
    for r in query(
        database,
        "SELECT id, history_type, value, history_change_reason FROM labs_history WHERE study_day >= 100",
    ):
        audit.setdefault(r[0], []).append(r[1:])
    for a in acks:
        for lab_id, value in zip(a.ids, a.values, strict=True):
            row = stored.get(lab_id)
            if row is None or (row[0], row[1], row[2]) != (a.patient, a.day, value):
                problems.append(
                    f"lab {lab_id}: stored {row}, acknowledged {(a.patient, a.day, value)}"
                )
            if audit.get(lab_id) != [("+", value, "load test")]:
                problems.append(f"lab {lab_id}: audit rows {audit.get(lab_id)}")
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument(
        "--write-every", type=int, default=5, help="Every Nth request saves labs (0: reads only)."
    )
    ap.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="Seconds each client pauses between requests (0: back-to-back, the harshest case).",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bvall-load-") as tmp:
        home = Path(tmp)
        if args.database == "sqlite":
            run(home, f"sqlite:///{home / 'bvall.db'}", args)
        else:
            admin = os.environ.get("BVALL_TEST_POSTGRES_URL")
            if not admin:
                sys.exit(
                    "Set BVALL_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)."
                )
            with postgres_database(admin) as url:
                run(home, url, args)


def run(home: Path, url: str, args: argparse.Namespace) -> None:
    server = LiveServer(home, url, workers=args.workers, threads=args.threads).start()
    # the clients share the machine with the server: their own CPU is printed with the results
    cpu0, wall0 = time.process_time(), time.monotonic()
    try:
        result = run_load(
            server, args.clients, args.seconds, think=args.think, write_every=args.write_every
        )
    finally:
        server.stop()
    client_cpu, client_wall = time.process_time() - cpu0, time.monotonic() - wall0
    summary = result.summary()
    problems = verify_writes(url, result.acks) if args.write_every else []
    print(
        json.dumps(
            {
                "database": args.database,
                "clients": args.clients,
                "think_s": args.think,
                "workers": args.workers,
                "threads": args.threads,
                **summary,
            },
            indent=2,
        )
    )
    print(
        f"acknowledged writes: {len(result.acks)} days ({sum(len(a.ids) for a in result.acks)} labs); verification problems: {len(problems)}"
    )
    print(
        f"load clients' own CPU: {client_cpu:.1f} s in {client_wall:.0f} s "
        f"({100 * client_cpu / max(client_wall, 1e-9):.0f} % of one core)"
    )
    for p in problems[:20]:
        print("  ", p)
    for e in result.errors[:10]:
        print("  error:", e)
    page = summary.get("page", {})
    if page:
        print(
            f"patient page p95 {page['p95_ms']} ms (target ≤ 150 ms): {'met' if page['p95_ms'] <= 150 else 'NOT met'}"
        )
        print(
            f"stale pages: {result.stale} of {len(result.latencies['page'])} (target 0); pages without the marks to check: {result.unchecked}"
        )
    if (problems and args.write_every) or result.errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
