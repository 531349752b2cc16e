"""Time to answer of the web app's derived pages on a fresh `bvall serve` (example cohort, SQLite).

    uv run python benchmarks/bench_web.py [--workers 1] [--wait 0]

Starts a new server (new database, demo data), logs in, and times, in order: the first patient
page (P05) right after start-up, a second patient (P07), the cohort list, the first patient
again, the analysis page twice, then (after a save of P05's labs) P05 and P07 again (served at
once; P05 marked "as of" until the deriver has caught up), then P05 right after a second save
as the saving user sees it (``?current=1``: waits for the derivation of the data as saved).
``--wait`` seconds pass between start-up and the first request (0: the first page arrives while the server may still be warming its
cache). The ratios are against the first cold page of the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from livestack import LiveServer
from load import Client


def timed(client: Client, path: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    status, _ = client.request("GET", path)
    return time.perf_counter() - t0, status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--wait", type=float, default=0.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        srv = LiveServer(home, f"sqlite:///{home / 'bvall.db'}", workers=args.workers)
        t_start = time.perf_counter()
        srv.start(timeout=120)
        started = time.perf_counter() - t_start
        try:
            assert srv.admin_password
            token = srv.token()
            client = Client(srv.url, "admin", srv.admin_password, token)
            time.sleep(args.wait)
            rows: list[tuple[str, float, int]] = [("server start (until /healthz)", started, 200)]
            for label, path in (
                ("patient P05, first view", "/patients/P05/"),
                ("patient P07, first view", "/patients/P07/"),
                ("cohort list", "/"),
                ("monitoring page", "/monitoring/"),
                ("patient P05, again", "/patients/P05/"),
                ("analysis page", "/analysis/"),
                ("analysis page, again", "/analysis/"),
            ):
                dt, status = timed(client, path)
                rows.append((label, dt, status))
            body = json.dumps(
                {
                    "study_day": 200,
                    "reason": "benchmark",
                    "labs": [{"test": "anc", "value": 0.7, "unit": "10^9/L"}],
                }
            )
            t0 = time.perf_counter()
            status, _ = client.request(
                "POST",
                "/api/patients/P05/labs",
                body,
                {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            rows.append(("save a day's labs of P05 (API)", time.perf_counter() - t0, status))
            for label, path in (
                ("patient P05 after the save", "/patients/P05/"),
                ("patient P07 after the save", "/patients/P07/"),
                # the saving user's own page waits for the derivation of the data as saved
                ("P05 after a 2nd save, current", "SAVE /patients/P05/?current=1"),
                ("patient P05, later", "/patients/P05/"),
            ):
                if path.startswith("SAVE "):
                    path = path.removeprefix("SAVE ")
                    client.request(
                        "POST",
                        "/api/patients/P05/labs",
                        body.replace('"study_day": 200', '"study_day": 201'),
                        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                    )
                dt, status = timed(client, path)
                rows.append((label, dt, status))
        finally:
            srv.stop()
    base = rows[1][1]
    print(f"workers={args.workers} wait={args.wait}s")
    print(f"{'request':36} {'seconds':>8} {'÷ first':>8} status")
    for label, dt, status in rows:
        print(f"{label:36} {dt:8.2f} {dt / base:8.2f} {status}")


if __name__ == "__main__":
    main()
