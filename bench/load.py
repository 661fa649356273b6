"""A load generator for the GraphQL endpoint: asyncio + httpx, HTTP/1.1 keep-alive connections.

Run it in a process of its own, so that the server's processes and the load compete only for the
machine, never for an event loop:

    python -m bench.load --spec SPEC.json --rate 200 --duration 20      # open loop at 200 requests/s
    python -m bench.load --spec SPEC.json --clients 16 --duration 20    # closed loop, 16 clients

SPEC.json names the endpoint and a mix, ``{"url": ..., "mix": "module:Class", "setup": {...},
"seed": 1}``: the mix is built from ``setup`` and hands out the requests (an operation label, a
token, a document and its variables). The results are one JSON object on stdout: per operation
and overall, the requests completed, those answered with errors, throughput and latency
percentiles in milliseconds.

Open loop: requests start on a Poisson schedule whatever the server does, and each one's latency
counts from the moment it was due, so that a server falling behind shows as latency (no
coordinated omission). Closed loop: each client sends its next request when the last one is
answered. Requests started during the warm-up are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

# A request still unanswered this long counts as an error (and the step as failed).
REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Request:
    operation: str  # the label results are reported under
    token: str | None
    query: str
    variables: dict[str, Any] | None = None


class Mix(Protocol):
    def __init__(self, setup: dict[str, Any], rng: random.Random) -> None: ...

    def next_request(self) -> Request: ...

    def refusal(self, request: Request, answer: dict[str, Any]) -> str | None:
        """None, or what the payload errors of the answer say (a business refusal)."""
        ...


def load_mix(spec: dict[str, Any], rng: random.Random) -> Mix:
    module_name, class_name = spec["mix"].split(":")
    mix_class = getattr(importlib.import_module(module_name), class_name)
    return mix_class(spec.get("setup", {}), rng)


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests only
    user_errors: int = 0  # answered, with payload errors (business refusals)
    errors: int = 0  # transport errors, HTTP errors, top-level GraphQL errors
    error_examples: list[str] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)  # payload error codes, counted

    def fail(self, reason: str) -> None:
        self.errors += 1
        if len(self.error_examples) < 3:
            self.error_examples.append(reason[:300])


class Recorder:
    def __init__(self) -> None:
        self.by_operation: dict[str, Samples] = defaultdict(Samples)
        self.counting = False

    def summary(self, seconds: float) -> dict[str, Any]:
        operations = {name: _summarise(samples, seconds) for name, samples in sorted(self.by_operation.items())}
        everything = Samples()
        for samples in self.by_operation.values():
            everything.latencies.extend(samples.latencies)
            everything.user_errors += samples.user_errors
            everything.errors += samples.errors
            everything.error_examples.extend(samples.error_examples[: 3 - len(everything.error_examples)])
            for reason, count in samples.refusals.items():
                everything.refusals[reason] = everything.refusals.get(reason, 0) + count
        return {"seconds": seconds, "overall": _summarise(everything, seconds), "operations": operations}


def percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _summarise(samples: Samples, seconds: float) -> dict[str, Any]:
    ordered = sorted(samples.latencies)
    answered = len(ordered)
    return {
        "requests": answered + samples.errors,
        "answered": answered,
        "user_errors": samples.user_errors,
        "errors": samples.errors,
        "error_examples": samples.error_examples,
        "refusals": samples.refusals,
        "throughput": answered / seconds if seconds else 0.0,
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p95_ms": percentile(ordered, 0.95) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] * 1000) if ordered else math.nan,
    }


def _body(request: Request) -> bytes:
    payload: dict[str, Any] = {"query": request.query}
    if request.variables is not None:
        payload["variables"] = request.variables
    return json.dumps(payload, ensure_ascii=False).encode()


async def send(
    client: httpx.AsyncClient, url: str, mix: Mix, request: Request, due: float, recorder: Recorder, counted: bool
) -> None:
    headers = {"content-type": "application/json", "accept": "application/graphql-response+json"}
    if request.token:
        headers["authorization"] = f"Bearer {request.token}"
    samples = recorder.by_operation[request.operation] if counted else Samples()
    try:
        response = await client.post(url, content=_body(request), headers=headers)
        answered = time.perf_counter()
        if response.status_code != 200:
            samples.fail(f"HTTP {response.status_code}: {response.text}")
            return
        answer = response.json()
    except (httpx.HTTPError, ValueError) as error:
        samples.fail(f"{type(error).__name__}: {error}")
        return
    if answer.get("errors"):
        samples.fail(json.dumps(answer["errors"], ensure_ascii=False))
        return
    refusal = mix.refusal(request, answer)
    if refusal is not None:
        samples.user_errors += 1
        samples.refusals[refusal] = samples.refusals.get(refusal, 0) + 1
    samples.latencies.append(answered - due)


def client_for(connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        http1=True,
        http2=False,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=60),
        timeout=httpx.Timeout(REQUEST_TIMEOUT_SECONDS, pool=REQUEST_TIMEOUT_SECONDS),
    )


async def open_loop(
    url: str, mix: Mix, rng: random.Random, rate: float, duration: float, warmup: float, connections: int
) -> dict[str, Any]:
    """Requests arrive at ``rate`` a second (Poisson) for ``warmup + duration`` seconds."""
    recorder = Recorder()
    pending: set[asyncio.Task] = set()
    async with client_for(connections) as client:
        start = time.perf_counter()
        counting_from, end = start + warmup, start + warmup + duration
        due = start
        while True:
            due += rng.expovariate(rate)
            if due >= end:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(send(client, url, mix, mix.next_request(), due, recorder, due >= counting_from))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending, timeout=REQUEST_TIMEOUT_SECONDS)
    summary = recorder.summary(duration)
    summary.update(mode="open", target_rate=rate)
    return summary


async def closed_loop(url: str, mix: Mix, clients: int, duration: float, warmup: float) -> dict[str, Any]:
    """``clients`` clients, each sending its next request once the last is answered."""
    recorder = Recorder()
    async with client_for(clients) as client:
        start = time.perf_counter()
        counting_from, end = start + warmup, start + warmup + duration

        async def one_client(number: int) -> None:
            # The clients start one after another. A burst of connections would all be accepted by
            # one of the server's processes (asyncio accepts every pending connection at once),
            # and a keep-alive connection stays with the process that accepted it; one at a time,
            # each goes to a process that is free to accept it, as connections arriving over time do.
            await asyncio.sleep(number * min(0.05, warmup / 2 / clients))
            while (now := time.perf_counter()) < end:
                await send(client, url, mix, mix.next_request(), now, recorder, now >= counting_from)

        await asyncio.gather(*(one_client(number) for number in range(clients)))
    summary = recorder.summary(duration)
    summary.update(mode="closed", clients=clients)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="JSON file: url, mix, setup, seed")
    parser.add_argument("--rate", type=float, help="open loop: requests a second")
    parser.add_argument("--clients", type=int, help="closed loop: concurrent clients")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (default 3)")
    parser.add_argument("--connections", type=int, default=256, help="open loop: most connections at once")
    args = parser.parse_args(argv)
    if (args.rate is None) == (args.clients is None):
        parser.error("give either --rate or --clients")
    with open(args.spec, encoding="utf-8") as file:
        spec = json.load(file)
    rng = random.Random(spec.get("seed", 1))
    mix = load_mix(spec, rng)
    try:
        import uvloop
    except ImportError:  # the plain event loop does, a little slower
        runner = asyncio.run
    else:
        runner = uvloop.run
    if args.rate is not None:
        result = runner(open_loop(spec["url"], mix, rng, args.rate, args.duration, args.warmup, args.connections))
    else:
        result = runner(closed_loop(spec["url"], mix, args.clients, args.duration, args.warmup))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
