"""`npm run bench:python`: the Python client's log_model of a 1 GiB file against `curl -T` of
the same size to a raw presigned PUT, on one embedded registry, in alternating rounds.

The raw PUT goes to the URL (and with the headers) the registry's own upload plan hands out
for those bytes, so both sides write through the same emulator the same way; only the
client differs. Every step gets new bytes (the first 8 bytes carry a counter) with an mtime
an hour back, like a checkpoint written earlier. Then the same file is logged again
unchanged. Prints a table and writes JSON to bench/results/.

    BENCH_MIB=1024 BENCH_ROUNDS=5 npm run bench:python
"""

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
sys.path.insert(0, os.path.join(ROOT, "clients", "python", "tests"))

from stack import Stack  # noqa: E402

MIB = 1024 * 1024
SIZE = int(os.environ.get("BENCH_MIB", "1024")) * MIB
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def fill(path: str, size: int) -> None:
    with open(path, "wb") as handle:
        written = 0
        while written < size:
            chunk = os.urandom(min(16 * MIB, size - written))
            handle.write(chunk)
            written += len(chunk)


def renew(path: str, counter: int) -> None:
    """New bytes (a counter in the first 8), an mtime an hour back."""
    with open(path, "r+b") as handle:
        handle.write(counter.to_bytes(8, "big"))
    past = time.time() - 3600
    os.utime(path, (past, past))


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(4 * MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def curl_put(stack: Stack, path: str) -> float:
    """Plans the bytes (untimed), then times `curl -T` to the presigned PUT alone."""
    sha = sha256_file(path)
    status, plan = stack.api("POST", "/v1/projects/bench/artifacts/raw/uploads", {"files": [{"path": "raw.bin", "size": SIZE, "sha256": sha}]})
    assert status == 200 and plan["uploads"], plan
    upload = plan["uploads"][0]
    assert "url" in upload, "the registry planned multipart; the raw PUT compares one PUT"
    headers = [arg for name, value in (upload.get("headers") or {}).items() for arg in ("-H", f"{name}: {value}")]
    subprocess.run(["sync"], check=False)
    started = time.monotonic()
    subprocess.run(["curl", "-sSf", "-o", "/dev/null", "-X", "PUT", "-T", path, *headers, upload["url"]], check=True)
    return time.monotonic() - started


def main() -> int:
    work = tempfile.mkdtemp(prefix="mreg-bench-py-")
    print(f"load average at start: {load()}")
    stack = Stack()
    try:
        os.environ.update(
            {
                "MREG_URL": stack.url,
                "MREG_API_KEY": stack.admin_key,
                "MREG_CACHE_DIR": os.path.join(work, "cache"),
                "MREG_CONFIG": os.path.join(work, "none.json"),
                "MREG_SILENT": "true",
            }
        )
        import mreg

        path = os.path.join(work, "model.bin")
        fill(path, SIZE)
        run = mreg.init(project="bench", id="bench-python")
        counter = 0

        def log_once():
            nonlocal counter
            counter += 1
            renew(path, counter)
            subprocess.run(["sync"], check=False)
            started = time.monotonic()
            logged = run.log_model(path, name="weights")
            elapsed = time.monotonic() - started
            assert logged.created and logged.stats["uploadedBytes"] == SIZE, logged.stats
            return elapsed, logged.stats

        def curl_once():
            nonlocal counter
            counter += 1
            renew(path, counter)
            return curl_put(stack, path)

        # Warm both sides once.
        curl_once()
        log_once()
        curls, logs, ratios, details = [], [], [], []
        for round_ in range(ROUNDS):
            if round_ % 2 == 0:
                c = curl_once()
                l, stats = log_once()
            else:
                l, stats = log_once()
                c = curl_once()
            curls.append(c)
            logs.append(l)
            ratios.append(l / c)
            details.append(stats)
            print(f"round {round_ + 1}: curl {c * 1000:.0f} ms, log {l * 1000:.0f} ms ({l / c:.2f}), hash {stats['hashMs']} ms, sent while hashing {stats['sentWhileHashing']}, load {load()}")

        # The same file again, unchanged: nothing hashed, nothing sent (median of three).
        relogs = []
        for _ in range(3):
            started = time.monotonic()
            again = run.log_model(path, name="weights")
            relogs.append(time.monotonic() - started)
            assert not again.created and again.stats["uploadedBytes"] == 0 and again.stats["hashedBytes"] == 0, again.stats
        relog = statistics.median(relogs)
        run.finish()

        median_curl, median_log = statistics.median(curls), statistics.median(logs)
        result = {
            "sizeMiB": SIZE // MIB,
            "rounds": ROUNDS,
            "curlMs": [round(x * 1000) for x in curls],
            "logMs": [round(x * 1000) for x in logs],
            "ratios": [round(x, 3) for x in ratios],
            "medianCurlMs": round(median_curl * 1000),
            "medianLogMs": round(median_log * 1000),
            "logOverCurl": round(median_log / median_curl, 3),
            "relogMs": round(relog * 1000),
            "relogRunsMs": [round(x * 1000) for x in relogs],
            "relogOverLog": round(relog / median_log, 4),
            "relogUploadedBytes": again.stats["uploadedBytes"],
            "relogHashedBytes": again.stats["hashedBytes"],
            "loadAverageEnd": load(),
            "python": sys.version.split()[0],
        }
        print()
        print(f"| step | median | min – max |")
        print(f"| --- | ---: | --- |")
        print(f"| curl -T, raw presigned PUT | {median_curl * 1000:.0f} ms | {min(curls) * 1000:.0f} – {max(curls) * 1000:.0f} ms |")
        print(f"| mreg (Python) log_model, new bytes | {median_log * 1000:.0f} ms | {min(logs) * 1000:.0f} – {max(logs) * 1000:.0f} ms |")
        print(f"| log_model again, unchanged (median of 3) | {relog * 1000:.0f} ms | {min(relogs) * 1000:.0f} – {max(relogs) * 1000:.0f} ms; {again.stats['uploadedBytes']} bytes sent, {again.stats['hashedBytes']} hashed |")
        print(f"| log / curl (medians) | {median_log / median_curl:.2f} | per round {', '.join(f'{r:.2f}' for r in ratios)}; goal ≤ 1.15 |")
        print(f"| re-log / log | {relog / median_log:.4f} | goal ≤ 0.05 with 0 bytes sent |")
        print(f"load average at end: {load()}")
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        out = os.path.join(ROOT, "bench", "results", f"python-log-{time.strftime('%Y%m%dT%H%M%S')}.json")
        with open(out, "w") as handle:
            json.dump(result, handle, indent=2)
        print(f"wrote {out}")
        return 0
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
