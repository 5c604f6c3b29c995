"""A low-CPU HTTP load generator for ``pypersonalize serve`` (asyncio, raw sockets, stdlib).

Run as its own process, pinned to one core by the caller (``taskset -c 1``), so the load
costs the server nothing but the requests. Two modes:

- ``open``: requests are scheduled at a fixed rate (``--rate``/s for ``--seconds``), whatever
  the answers do, over a pool of keep-alive connections. A request's latency runs from
  when it is written to its answer; how late it was written (the event loop's timer, which
  epoll rounds to a millisecond, or waiting for a free connection when the server falls
  behind) is reported apart as ``lag``, so a slow server shows there instead of as fewer
  requests (no coordinated omission).
- ``closed``: ``--concurrency`` connections each send their next request as soon as the last
  is answered, for ``--seconds``: the saturation throughput.

Requests mix GetRecommendations (``POST /recommendations``) and PutEvents (``POST /events``,
each event with its own ``eventId``) ``--mix`` to 1. The report (JSON on stdout) holds
latencies per kind, statuses, throughput, the (eventId, sentAt) of each event the server
acknowledged (200) and the
generator's own CPU time.

    python benchmarks/loadgen.py --port 8080 --plan plan.json --mode open --rate 200 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time

import numpy as np


class Connection:
    """One keep-alive HTTP/1.1 connection; ``request`` sends a POST and reads the answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host)

    async def request(self, path: str, body: bytes) -> int:
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


class Requests:
    """The seeded request stream: which kind comes next and its body."""

    def __init__(self, plan: dict, mix: int, prefix: str, seed: int, offset: int):
        self.plan, self.mix, self.prefix, self.offset = plan, mix, prefix, offset
        self.rng = random.Random(seed)
        self.count = 0

    def next(self) -> tuple[str, str, bytes, tuple | None]:
        """(kind, path, body, (eventId, sentAt) or None)."""
        self.count += 1
        user = self.rng.choice(self.plan["users"])
        if self.count % (self.mix + 1):
            body = {"campaignArn": self.plan["campaignArn"], "userId": user, "numResults": self.plan["n"]}
            return "GetRecommendations", "/recommendations", json.dumps(body).encode(), None
        event_id = f"{self.prefix}-{self.count}"
        # each event's sentAt is unique, so the check after the run finds each stored row
        sent_at = self.plan["sentAtBase"] + self.offset + self.count
        body = {"trackingId": self.plan["trackingId"], "userId": user, "sessionId": f"load-{user}",
                "eventList": [{"eventId": event_id, "eventType": "watch", "sentAt": sent_at,
                               "itemId": self.rng.choice(self.plan["items"])}]}
        return "PutEvents", "/events", json.dumps(body).encode(), (event_id, sent_at)


class Recorder:
    def __init__(self):
        self.latency: dict[str, list[float]] = {"GetRecommendations": [], "PutEvents": []}
        self.statuses: dict[str, int] = {}
        self.acked: list[tuple] = []     # (eventId, sentAt) of each acknowledged event
        self.failed = 0
        self.lag: list[float] = []       # open mode: how late each request left (timer, free connection)

    def done(self, kind: str, seconds: float, status: int, event: tuple | None) -> None:
        self.latency[kind].append(seconds)
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        if status == 200 and event is not None:
            self.acked.append(event)


async def _one(pool: asyncio.Queue, args, kind, path, body, event_id, scheduled, rec: Recorder) -> None:
    con = await pool.get()
    sent = time.perf_counter()
    rec.lag.append(sent - scheduled)
    try:
        status = await con.request(path, body)
    except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
        rec.failed += 1
        con.close()
        con = await Connection.open(args.host, args.port)   # a fresh connection for the pool
    else:
        rec.done(kind, time.perf_counter() - sent, status, event_id)
    pool.put_nowait(con)


async def run_open(args, stream: Requests, rec: Recorder) -> float:
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(args.connections):
        pool.put_nowait(await Connection.open(args.host, args.port))
    total = int(args.rate * args.seconds)
    start = time.perf_counter()
    tasks = []
    for i in range(total):
        scheduled = start + i / args.rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        kind, path, body, event_id = stream.next()
        tasks.append(asyncio.ensure_future(_one(pool, args, kind, path, body, event_id, scheduled, rec)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    return elapsed


async def run_closed(args, stream: Requests, rec: Recorder) -> float:
    end = time.perf_counter() + args.seconds

    async def worker():
        con = await Connection.open(args.host, args.port)
        while time.perf_counter() < end:
            kind, path, body, event_id = stream.next()
            sent = time.perf_counter()
            try:
                status = await con.request(path, body)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
                rec.failed += 1
                con.close()
                con = await Connection.open(args.host, args.port)
                continue
            rec.done(kind, time.perf_counter() - sent, status, event_id)
        con.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return time.perf_counter() - start


def summary(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    ms = 1000 * np.asarray(values)
    return {"count": len(ms), "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--plan", required=True, help="JSON: campaignArn, trackingId, users, items, n, sentAtBase")
    ap.add_argument("--mode", choices=("open", "closed"), default="open")
    ap.add_argument("--rate", type=float, default=200.0, help="open mode: requests per second")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--connections", type=int, default=32, help="open mode: keep-alive connections")
    ap.add_argument("--concurrency", type=int, default=8, help="closed mode: connections in flight")
    ap.add_argument("--mix", type=int, default=9, help="GetRecommendations per PutEvents")
    ap.add_argument("--event-prefix", default="load")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sent-at-offset", type=int, default=0, help="added to every event's sentAt")
    args = ap.parse_args()
    with open(args.plan) as f:
        plan = json.load(f)
    stream = Requests(plan, args.mix, args.event_prefix, args.seed, args.sent_at_offset)
    rec = Recorder()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    runner = run_open if args.mode == "open" else run_closed
    elapsed = asyncio.run(runner(args, stream, rec))
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    answered = sum(len(v) for v in rec.latency.values())
    json.dump({"mode": args.mode, "seconds": elapsed, "answered": answered, "failed": rec.failed,
               "throughput": answered / elapsed, "statuses": rec.statuses,
               "all": summary(rec.latency["GetRecommendations"] + rec.latency["PutEvents"]),
               "kinds": {k: summary(v) for k, v in rec.latency.items()}, "lag": summary(rec.lag),
               "acked": rec.acked, "cpu_seconds": cpu}, sys.stdout)


if __name__ == "__main__":
    main()
