"""Attachment throughput and memory (issue 14): upload/download MB/s on both file stores, and
the server's peak RSS under concurrent large uploads.

    .venv/bin/python bench/files_bench.py [--store local|s3|both] [--size-mb 100]
        [--rounds 3] [--concurrent 20]

It starts its own ``kibitz serve`` (SQLite) on loopback — with ``--store s3`` also moto's S3
server on loopback, the AWS settings pointing at it — creates an app whose file cap is
200 MB, and then:

- *upload*: ``--rounds`` sequential uploads of ``--size-mb`` (multipart, streamed from a
  generator: the client holds 1 MiB), MB/s = bytes / wall time of each request;
- *download*: the same file fetched ``--rounds`` times, streamed and discarded;
- *concurrent*: ``--concurrent`` uploads of ``--size-mb`` at once while the server's RSS
  (its process tree: uvicorn is one process) is sampled every 20 ms; the peak and the
  baseline before are reported.

Prints one JSON object per store. MB is 10^6 bytes. Loopback only; bounded in count and
time (each request has a timeout, the whole run stops after ``--deadline-s``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psutil

CHUNK = os.urandom(1024 * 1024)
BOUNDARY = "kibitzbenchboundary"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)  # polling a starting process, bounded by the deadline
    raise RuntimeError(f"{url} did not answer")


def body_length(size: int) -> tuple[bytes, bytes, int]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return head, tail, len(head) + size + len(tail)


async def multipart(size: int) -> AsyncIterator[bytes]:
    head, tail, _ = body_length(size)
    yield head
    left = size
    while left > 0:
        n = min(left, len(CHUNK))
        yield CHUNK[:n]
        left -= n
    yield tail


async def upload(http: httpx.AsyncClient, base: str, token: str, size: int) -> tuple[str, float]:
    _, _, length = body_length(size)
    started = time.perf_counter()
    response = await http.post(
        f"{base}/chatfiles",
        content=multipart(size),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(length),
        },
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return str(response.json()["entities"][0]["uuid"]), elapsed


async def download(http: httpx.AsyncClient, base: str, token: str, file_id: str) -> float:
    started = time.perf_counter()
    got = 0
    async with http.stream(
        "GET", f"{base}/chatfiles/{file_id}", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw(1024 * 1024):
            got += len(chunk)
    return time.perf_counter() - started


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def start(store: str, tmp: Path, procs: list[subprocess.Popen[bytes]]) -> tuple[str, Any]:
    """``kibitz serve`` (and moto for S3) on loopback; returns its REST base and the app."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIBITZ_")}
    if store == "s3":
        moto_port = free_port()
        env.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{moto_port}",
        )
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        procs.append(moto)
        wait_http(env["AWS_ENDPOINT_URL"], moto)
        import boto3

        boto3.session.Session().client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            region_name="us-east-1",
        ).create_bucket(Bucket="bench")
        env["KIBITZ_FILE_STORE"] = "s3://bench/files"
    kibitz = [sys.executable, "-m", "kibitz"]
    created = json.loads(
        subprocess.run(
            [*kibitz, "app", "create", "acme", "bench", "--json", "--data-dir", str(tmp)],
            check=True,
            capture_output=True,
            env=env,
            timeout=60,
        ).stdout
    )
    port = free_port()
    server = subprocess.Popen(
        [*kibitz, "serve", "--port", str(port), "--data-dir", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    procs.append(server)
    rest = f"http://127.0.0.1:{port}"
    wait_http(f"{rest}/health", server)
    return rest, created


async def measure(
    store: str, rest: str, created: Any, pid: int, args: argparse.Namespace
) -> dict[str, Any]:
    base = f"{rest}/acme/bench"
    timeout = httpx.Timeout(args.deadline_s)
    limits = httpx.Limits(max_connections=args.concurrent + 2)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        granted = await http.post(
            f"{base}/token",
            json={
                "grant_type": "client_credentials",
                "client_id": created["client_id"],
                "client_secret": created["client_secret"],
            },
        )
        token = granted.json()["access_token"]
        settings = await http.put(
            f"{base}/settings",
            json={"file_max_bytes": 200 * 1024 * 1024},
            headers={"Authorization": f"Bearer {token}"},
        )
        settings.raise_for_status()
        size = args.size_mb * 1_000_000
        mb = size / 1e6
        ups: list[float] = []
        downs: list[float] = []
        file_id = ""
        for _ in range(args.rounds):
            file_id, took = await upload(http, base, token, size)
            ups.append(mb / took)
        for _ in range(args.rounds):
            downs.append(mb / await download(http, base, token, file_id))
        ps = psutil.Process(pid)
        baseline = tree_rss(ps)
        peak = baseline
        stop = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, tree_rss(ps))
                try:
                    await asyncio.wait_for(stop.wait(), 0.02)
                except TimeoutError:
                    pass

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        results = await asyncio.gather(
            *(upload(http, base, token, size) for _ in range(args.concurrent))
        )
        wall = time.perf_counter() - started
        stop.set()
        await sampler
    return {
        "store": store,
        "size_mb": args.size_mb,
        "upload_mb_s": [round(x, 1) for x in ups],
        "download_mb_s": [round(x, 1) for x in downs],
        "concurrent_uploads": len(results),
        "concurrent_wall_s": round(wall, 1),
        "concurrent_aggregate_mb_s": round(len(results) * mb / wall, 1),
        "server_rss_baseline_mb": round(baseline / 1e6, 1),
        "server_rss_peak_mb": round(peak / 1e6, 1),
    }


def run_store(store: str, args: argparse.Namespace) -> dict[str, Any]:
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix=f"kibitz-files-{store}-") as tmp:
        try:
            rest, created = start(store, Path(tmp), procs)
            work = measure(store, rest, created, procs[-1].pid, args)
            return asyncio.run(asyncio.wait_for(work, args.deadline_s))
        finally:
            for proc in reversed(procs):
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["local", "s3", "both"], default="both")
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--deadline-s", type=float, default=600.0)
    args = parser.parse_args()
    for store in ["local", "s3"] if args.store == "both" else [args.store]:
        print(json.dumps(run_store(store, args)), flush=True)


if __name__ == "__main__":
    main()
