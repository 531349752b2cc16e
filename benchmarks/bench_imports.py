"""Imports within limits on a real `bvall serve` (issue 12 item 2): time, answer size and the
worker's memory for the uploads that took a server down before the limits.

Run: ``uv run python benchmarks/bench_imports.py`` (starts its own server on a temporary SQLite
database with the demo data; one worker, so its memory is the import's). Each case prints the
seconds, the HTTP status, the answer's size and how much the worker's peak resident memory
(VmHWM) grew, and the time as a ratio of a one-row preview measured in the same run.
"""

from __future__ import annotations

import http.client
import io
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import livestack


def _multipart(name: str, payload: bytes, commit: bool) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="commit"\r\n\r\n'
        f"{'true' if commit else 'false'}\r\n".encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="reason"\r\n\r\nbench\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode(),
        payload,
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _post(port: int, token: str, name: str, payload: bytes, commit: bool) -> tuple[int, int, float]:
    body, ctype = _multipart(name, payload, commit)
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.putrequest("POST", "/api/import")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", ctype)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    try:
        view = memoryview(body)
        for i in range(0, len(body), 1 << 16):
            conn.send(view[i : i + (1 << 16)])
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered before the body was sent: what a refusal should do
    resp = conn.getresponse()
    answer = resp.read()
    elapsed = time.perf_counter() - started
    conn.close()
    return resp.status, len(answer), elapsed


def _workers(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    out = []
    for c in children:
        cmd = Path(f"/proc/{c}/cmdline").read_bytes()
        if b"deriver" not in cmd:
            out.append(int(c))
    return out


def _mem(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _csv(rows: int, header: bool, value: str = "x") -> bytes:
    head = b"patient_id,test,value,unit,study_day\n" if header else b""
    return head + b"".join(f"P05,anc,{value},10^9/L,{d}\n".encode() for d in range(20, 20 + rows))


def _xlsx_headerless(rows: int) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("labs")
    for _ in range(rows):
        ws.append(["P05", "anc", 0.5, "10^9/L", 3])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bvall-bench-imports-"))
    server = livestack.LiveServer(home, f"sqlite:///{home / 'bench.db'}", workers=1, threads=1)
    server.start(timeout=600)
    try:
        token = server.token()
        assert server.proc is not None
        (worker,) = _workers(server.proc.pid)
        big = _csv(2_600_000, header=True)  # about 61 MB
        cases = [
            ("baseline: 1-row labs.csv preview", "labs.csv", _csv(1, True, "0.5"), False),
            (f"{len(big) / 2**20:.0f} MB labs.csv, commit=false", "labs.csv", big, False),
            (
                "xlsx, 200,000 rows, no header, no sheet size",
                "labs.xlsx",
                _xlsx_headerless(200_000),
                True,
            ),
            ("labs.csv, 50,000 rows each with a bad value", "labs.csv", _csv(50_000, True), True),
            ("labs.csv, 60,000 rows (over the row limit)", "labs.csv", _csv(60_000, True), True),
        ]
        count = "SELECT COUNT(*) FROM labs"
        labs_before = livestack.query(server.database, count)[0][0]
        base = None
        print(
            f"{'case':52} {'size':>9} {'s':>7} {'ratio':>7} {'status':>6} {'answer':>9} {'peak +MB':>8}"
        )
        for label, name, payload, commit in cases:
            Path(f"/proc/{worker}/clear_refs").write_text("5")  # peak RSS := current RSS
            before = _mem(worker, "VmRSS")
            status, answer, elapsed = _post(server.port, token, name, payload, commit)
            peak = _mem(worker, "VmHWM") - before
            base = base or elapsed
            print(
                f"{label:52} {len(payload) / 1024:8.0f}k {elapsed:7.2f} {elapsed / base:7.1f} "
                f"{status:>6} {answer / 1024:8.1f}k {peak:8.0f}"
            )
        written = livestack.query(server.database, count)[0][0] - labs_before
        print(f"labs written by these imports: {written}")
        print(json.dumps({"worker_rss_mb_end": round(_mem(worker, "VmRSS"))}))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
