"""Time to answer of the web app on a fresh `bvall serve` (example cohort, SQLite).

    uv run python benchmarks/bench_web.py [--workers 2] [--repeat 5]

Starts a new server (new database, demo data), logs in, and times: the first patient page (P05),
a second patient (P07), the cohort list, P05 again, the analysis page; then ``--repeat`` rounds
of: save a day's labs of P05 through the API, P05's page right after the save (derived in that
request: it shows the new grade and alert), the analysis page after that data change and, in the
last round, the report as PDF. Every figure is printed with its ratio to ``GET /healthz`` (a
request that does no work) timed in the same run. Targets: save p95 ≤ 150 ms,
analysis after a data change ≤ 1.5 s, PDF ≤ 4 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from livestack import LiveServer
from load import Client


def timed(client: Client, method: str, path: str, body: str | None = None, **h: str) -> float:
    t0 = time.perf_counter()
    status, _ = client.request(method, path, body, h or None)
    dt = time.perf_counter() - t0
    print(f"  {method} {path}: {dt:.2f} s", file=sys.stderr, flush=True)
    if status not in (200, 201):
        raise RuntimeError(f"{method} {path}: HTTP {status}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rows: list[tuple[str, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        srv = LiveServer(home, f"sqlite:///{home / 'bvall.db'}", workers=args.workers)
        t_start = time.perf_counter()
        srv.start(timeout=300)
        rows.append(("server start (until /healthz)", [time.perf_counter() - t_start]))
        try:
            assert srv.admin_password
            token = srv.token()
            client = Client(srv.url, "admin", srv.admin_password, token)
            client.conn.timeout = 300  # a slow report must be timed, not abandoned
            if client.conn.sock is not None:
                client.conn.sock.settimeout(300)
            rows.append(
                ("GET /healthz (baseline)", [timed(client, "GET", "/healthz") for _ in range(20)])
            )
            for label, path in (
                ("patient P05, first view", "/patients/P05/"),
                ("patient P07, first view", "/patients/P07/"),
                ("cohort list", "/"),
                ("patient P05, again", "/patients/P05/"),
                ("analysis page", "/analysis/"),
            ):
                rows.append((label, [timed(client, "GET", path)]))
            saves, pages, analyses = [], [], []
            auth = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            for i in range(args.repeat):
                body = json.dumps({"study_day": 200 + i, "reason": "benchmark",
                                   "labs": [{"test": "anc", "value": 0.2, "unit": "10^9/L"}]})  # fmt: skip
                saves.append(timed(client, "POST", "/api/patients/P05/labs", body, **auth))
                pages.append(timed(client, "GET", "/patients/P05/"))
                analyses.append(timed(client, "GET", "/analysis/"))
            rows.append(("save a day's labs of P05 (API)", saves))
            rows.append(("P05 right after the save", pages))
            rows.append(("analysis page after the data change", analyses))
            rows.append(("report PDF download", [timed(client, "GET", "/analysis/report.pdf")]))
            rows.append(("report HTML download", [timed(client, "GET", "/analysis/report.html")]))
        finally:
            srv.stop()
    base = statistics.median(rows[1][1])
    print(f"workers={args.workers} repeat={args.repeat}; ratios against the median /healthz")
    print(f"{'request':38} {'n':>3} {'median s':>9} {'max s':>8} {'÷ healthz':>10}")
    for label, times in rows:
        med = statistics.median(times)
        print(f"{label:38} {len(times):3d} {med:9.3f} {max(times):8.3f} {med / base:10.1f}")


if __name__ == "__main__":
    main()
