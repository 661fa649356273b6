"""A peak day before the 20th, over HTTP, against ``main.py serve --workers N`` on PostgreSQL and Redis.

The mix: persons reading their records; community kiosks (clerks) changing personal information,
ordering the payment of arrears with idempotency keys (a share of them retries of an answered
request) and registering persons; employer agents reading their staff and declaring their
contribution bases (E3); dashboards refreshing the statistics as an analyst. A load process of its own (bench/load.py) sends it on loopback at a
rate stepped up until p95 reaches 200 ms, and reports the highest rate held with each
operation's latency.

In the same run, the read path is compared with a minimal graphql-core app (bench/minimal_app.py)
served by uvicorn with the same number of workers, on the same database: a person's page of
records as the person reads it, and bench/read_path.py's page of 50 persons as an administrator,
each by clients that send the next request as soon as the last one is answered. The minimal app
runs twice: calling graphql() for each request as bench/read_path.py's baseline does, and parsing
and validating each distinct document once, as the product does.

The benchmark creates its database on the PostgreSQL server given, seeds a city
(services.demo_city.seed_city) with the demo accounts, a kiosk clerk for each community whose
flexibly employed owe arrears and an agent for each of the employers with the most staff, runs the dashboards' nightly rollups, uses a Redis queue name of
its own, and drops both at the end. The clock is held at a day before the 20th. Each account
signs in once. It prints the machine, then the comparison, then each step and the operations at
the highest rate held.

    python -m bench.peak_day [--persons 20000] [--workers N] [--server postgres://postgres@127.0.0.1:5432/test]
                             [--redis redis://127.0.0.1:6379/0] [--kiosks 200] [--agents 50]
                             [--step-seconds 20] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from bench.load import Request
from bench.machine import cpu_model, memory, python
from domain.identifiers import make_resident_id

ROOT = Path(__file__).resolve().parents[1]
P95_TARGET_MS = 200.0
# The accounts that sign in (services.demo_accounts), and the kiosks' (one clerk per community).
SIGNING_IN = ("demo.person", "demo.agent", "demo.clerk", "demo.analyst", "demo.admin")

# The person's own page, as the app shows it after signing in.
PERSON_RECORDS = """query MyRecords { me { username person {
  id name idNumber category phone address
  passbook { balance }
  policies { edges { node { insuranceType channel status grade startMonth } } }
  arrears { edges { node { id month insuranceType principal status } } }
  periods(last: 12) { edges { node { month insuranceType base amount status paidVia } } }
} } }"""

# bench/read_path.py's query, with its page size.
PERSONS_PAGE = """query Page($first: Int!) { persons(first: $first) { edges { node {
  name idNumber
  policies { edges { node { insuranceType grade } } }
  periods(last: 12) { edges { node { month amount status } } }
} } } }"""

EMPLOYER_STAFF = """query EmployerStaff { me { employer { id name creditCode
  employees(first: 50) { totalCount edges { node { startMonth declaredWage status person { name idNumber category } } } }
} } }"""

UPDATE_PERSONAL_INFO = """mutation KioskUpdatePersonalInfo($input: UpdatePersonalInfoInput!) {
  updatePersonalInfo(input: $input) { person { id phone address } transaction { id status } errors { field code message } } }"""

PAY_ARREARS = """mutation KioskPayArrears($input: PayArrearsInput!) {
  payArrears(input: $input) {
    order { id total collectionMonth lines { month principal interest } } transaction { id status }
    errors { field code message } } }"""

DECLARE_CONTRIBUTION_BASE = """mutation AgentDeclareBases($input: DeclareContributionBaseInput!) {
  declareContributionBase(input: $input) {
    year averageWage lines { line base clamp repricedPeriods } transaction { id status }
    lineErrors { line field code message } errors { field code message } } }"""

REGISTER_PERSON = """mutation KioskRegisterPerson($input: RegisterPersonInput!) {
  registerPerson(input: $input) { person { id name idNumber } transaction { id status } errors { field code message } } }"""

ENROLLMENT_STATS = """query EnrollmentDashboard { enrollmentStats(groupBy: [DISTRICT, INSURANCE_TYPE]) {
  asOf groups { count suppressed districtId insuranceType } } }"""

BUSINESS_VOLUME_STATS = """query BusinessVolumeDashboard($from: Month!, $to: Month!) {
  businessVolumeStats(groupBy: [BUSINESS_TYPE, MONTH], fromMonth: $from, toMonth: $to) {
    asOf groups { count suppressed businessType month } } }"""

ONLINE_ADOPTION_STATS = """query AdoptionDashboard { onlineAdoptionStats { asOf
  persons { total online share } employers { total online share }
  districts { districtCode districtName persons { total online share } employers { total online share } } } }"""

KIOSK_PERSONS = """query KioskPersons {
  me { community { id code } }
  flexible: persons(filter: {category: FLEXIBLE}, first: 100) {
    edges { node { id arrears(status: OPEN, first: 50) { edges { node { id } } } } } }
  uninsured: persons(filter: {category: UNINSURED}, first: 100) { edges { node { id } } } }"""

LOGIN = """mutation SignIn($input: LoginInput!) { login(input: $input) { token errors { code message } } }"""

# Shares of the peak-day requests (they need not add up to 100).
DEFAULT_WEIGHTS = {
    "myRecords": 50,
    "employerStaff": 8,
    "declareContributionBase": 6,
    "updatePersonalInfo": 10,
    "payArrears": 6,
    "registerPerson": 6,
    "enrollmentStats": 6,
    "businessVolumeStats": 5,
    "onlineAdoptionStats": 5,
}
PAY_RETRY_SHARE = 0.25  # of payArrears: the kiosk sends an answered request again, same key
MUTATION_FIELDS = {
    "updatePersonalInfo": "updatePersonalInfo",
    "payArrears": "payArrears",
    "payArrears (retry)": "payArrears",
    "registerPerson": "registerPerson",
    "declareContributionBase": "declareContributionBase",
}


# ---------------------------------------------------------------------------------------------
# The mixes, built inside the load process from the setup gathered here.


class ReadMix:
    """One read request, again and again (the read-path comparison)."""

    def __init__(self, setup: dict[str, Any], rng: random.Random) -> None:
        self.request = Request(setup["operation"], setup["token"], setup["query"], setup.get("variables"))

    def next_request(self) -> Request:
        return self.request

    def refusal(self, request: Request, answer: dict[str, Any]) -> str | None:
        return None


class PeakDayMix:
    """The peak-day mix: see the module's description and DEFAULT_WEIGHTS."""

    def __init__(self, setup: dict[str, Any], rng: random.Random) -> None:
        self.rng = rng
        self.tokens = setup["tokens"]
        self.kiosks = [kiosk for kiosk in setup["kiosks"] if kiosk["persons"]]
        self.agents = setup["agents"]
        self.months = setup["months"]
        self.operations = list(setup["weights"])
        self.weights = [setup["weights"][name] for name in self.operations]
        for kiosk in self.kiosks:
            rng.shuffle(kiosk["open_arrears"])
        self.answered_orders: deque[Request] = deque(maxlen=500)
        self.registered = 0

    def next_request(self) -> Request:
        operation = self.rng.choices(self.operations, self.weights)[0]
        return getattr(self, "_" + operation)()

    def refusal(self, request: Request, answer: dict[str, Any]) -> str | None:
        name = MUTATION_FIELDS.get(request.operation)
        if name is None:
            return None
        payload = (answer.get("data") or {}).get(name) or {}
        if request.operation == "payArrears":
            self.answered_orders.append(Request("payArrears (retry)", request.token, request.query, request.variables))
        errors = payload.get("errors")
        return ", ".join(sorted({error["code"] for error in errors})) if errors else None

    def _kiosk(self) -> dict[str, Any]:
        return self.rng.choice(self.kiosks)

    def _myRecords(self) -> Request:
        return Request("myRecords", self.tokens["demo.person"], PERSON_RECORDS)

    def _employerStaff(self) -> Request:
        return Request("employerStaff", self.rng.choice(self.agents)["token"], EMPLOYER_STAFF)

    def _declareContributionBase(self) -> Request:
        agent = self.rng.choice(self.agents)
        staff = self.rng.sample(agent["staff"], min(len(agent["staff"]), self.rng.randint(1, 5)))
        lines = [
            {"idNumber": id_number, "declaredWage": f"{self.rng.randrange(3000, 40000)}.00"} for id_number in staff
        ]
        variables = {"input": {"year": int(self.months["to"][:4]), "lines": lines, "idempotencyKey": uuid.uuid4().hex}}
        return Request("declareContributionBase", agent["token"], DECLARE_CONTRIBUTION_BASE, variables)

    def _updatePersonalInfo(self) -> Request:
        kiosk = self._kiosk()
        phone = "13" + "".join(self.rng.choice("0123456789") for _ in range(9))
        variables = {
            "input": {"personId": self.rng.choice(kiosk["persons"]), "phone": phone, "idempotencyKey": uuid.uuid4().hex}
        }
        return Request("updatePersonalInfo", kiosk["token"], UPDATE_PERSONAL_INFO, variables)

    def _payArrears(self) -> Request:
        owing = [kiosk for kiosk in self.kiosks if kiosk["open_arrears"]]
        if self.answered_orders and (not owing or self.rng.random() < PAY_RETRY_SHARE):
            return self.rng.choice(self.answered_orders)
        if not owing:  # nothing left to order: a kiosk reads the records instead
            return self._myRecords()
        kiosk = self.rng.choice(owing)
        person_id, arrear_id = kiosk["open_arrears"].pop()
        variables = {"input": {"personId": person_id, "arrearIds": [arrear_id], "idempotencyKey": uuid.uuid4().hex}}
        return Request("payArrears", kiosk["token"], PAY_ARREARS, variables)

    def _registerPerson(self) -> Request:
        kiosk = self._kiosk()
        self.registered += 1
        birth = dt.date(1960, 1, 1) + dt.timedelta(days=self.rng.randrange(365 * 45))
        id_number = make_resident_id(kiosk["district_code"], birth, self.rng.randrange(1, 1000))
        variables = {
            "input": {
                "idNumber": id_number,
                "name": f"新登记{self.registered}",
                "communityId": kiosk["community"],
                "phone": "027-8" + "".join(self.rng.choice("0123456789") for _ in range(7)),
                "idempotencyKey": uuid.uuid4().hex,
            }
        }
        return Request("registerPerson", kiosk["token"], REGISTER_PERSON, variables)

    def _enrollmentStats(self) -> Request:
        return Request("enrollmentStats", self.tokens["demo.analyst"], ENROLLMENT_STATS)

    def _businessVolumeStats(self) -> Request:
        return Request(
            "businessVolumeStats",
            self.tokens["demo.analyst"],
            BUSINESS_VOLUME_STATS,
            {"from": self.months["from"], "to": self.months["to"]},
        )

    def _onlineAdoptionStats(self) -> Request:
        return Request("onlineAdoptionStats", self.tokens["demo.analyst"], ONLINE_ADOPTION_STATS)


# ---------------------------------------------------------------------------------------------
# The database, the servers and the load process.


def postgres_dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


async def create_city(
    database_url: str, persons: int, seed: int, kiosks: int, agents: int
) -> tuple[Any, list[str], list[dict[str, Any]]]:
    """Migrate, seed the city and the demo accounts, open one kiosk clerk account for each of the
    ``kiosks`` communities with the most open arrears of flexible-employment persons, and agents
    for the ``agents`` employers with the most staff (open_agents)."""
    from tortoise import Tortoise
    from tortoise.transactions import in_transaction

    from demo.accounts import DEMO_PASSWORD, create_demo_accounts
    from demo.city import seed_city
    from domain.enums import Role
    from models import Community
    from models.database import apply_migrations
    from services.access import create_staff_account
    from settings import Settings

    settings = Settings(database_url=database_url)
    await apply_migrations(settings)
    await Tortoise.init(config=settings.tortoise_config())
    try:
        async with in_transaction():
            report = await seed_city(persons=persons, seed=seed)
            await create_demo_accounts(seed=seed)
        connection = Tortoise.get_connection("default")
        rows = await connection.execute_query_dict(
            """SELECT p.community_id, count(*) AS owing FROM arrear a JOIN person p ON p.id = a.person_id
               WHERE a.status = 'OPEN' AND p.category = 'FLEXIBLE'
                 AND p.community_id NOT IN (SELECT community_id FROM account WHERE username = 'demo.clerk')
               GROUP BY p.community_id ORDER BY owing DESC, p.community_id LIMIT $1""",
            [max(kiosks - 1, 0)],
        )
        communities = [await Community.get(id=row["community_id"]) for row in rows]
        usernames = [f"kiosk.{community.code}" for community in communities]
        await asyncio.gather(
            *(
                create_staff_account(Role.CLERK, username, DEMO_PASSWORD, community=community)
                for username, community in zip(usernames, communities)
            )
        )
        employer_agents = await open_agents(agents)
        # The statistics autovacuum gathers soon after a bulk load: without them the planner scans.
        await connection.execute_script("ANALYZE")
        await refresh_dashboards()
    finally:
        await Tortoise.close_connections()
    return report, usernames, employer_agents


async def open_agents(count: int) -> list[dict[str, Any]]:
    """An agent account for each of the ``count`` employers with the most staff, the demo agent's
    aside, granted as at the district office by a reviewer of the employer's district; each with
    its username, device credential and the ID numbers of up to 50 of its staff."""
    from tortoise import Tortoise

    from demo.accounts import DEMO_PASSWORD, grant_known_access
    from domain.enums import Role
    from models import District, Employer, Employment
    from services.access import create_staff_account

    rows = await Tortoise.get_connection("default").execute_query_dict(
        """SELECT m.employer_id, count(*) AS staff FROM employment m
           WHERE m.status = 'ACTIVE' AND m.employer_id NOT IN (SELECT employer_id FROM account WHERE employer_id IS NOT NULL)
           GROUP BY m.employer_id ORDER BY staff DESC, m.employer_id LIMIT $1""",
        [count],
    )
    reviewers: dict[int, Any] = {}
    opened = []
    for number, row in enumerate(rows):
        employer = await Employer.get(id=row["employer_id"])
        district = await District.get(id=employer.district_id)
        if district.id not in reviewers:
            reviewers[district.id] = await create_staff_account(
                Role.REVIEWER, f"reviewer.{district.code}", DEMO_PASSWORD, district=district
            )
        username, credential = f"agent.{employer.credit_code}", f"bench-agent-device-credential-{number:013d}"
        await grant_known_access(
            reviewers[district.id], f"{district.name}社保经办大厅", username, credential, employer=employer
        )
        staff = await (
            Employment.filter(employer_id=employer.id, status="ACTIVE")
            .order_by("id")
            .limit(50)
            .values_list("person__id_number", flat=True)
        )
        opened.append({"username": username, "credential": credential, "staff": list(staff)})
    return opened


async def refresh_dashboards() -> None:
    """The dashboards' rollups, as the workers' nightly job leaves them before the day starts."""
    from domain.enums import JobKind, JobStatus
    from jobs.queue import create_job
    from jobs.registry import run_job
    from models import Job

    job = await create_job(JobKind.REFRESH_STATISTICS, {})
    await run_job({}, str(job.id))
    done = await Job.get(id=job.id)
    if done.status is not JobStatus.SUCCEEDED:
        raise RuntimeError(f"the dashboards' rollups failed: {done.error}")


@dataclass
class Server:
    name: str
    command: list[str]
    environment: dict[str, str]
    port: int
    ready_path: str
    log: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    async def start(self, timeout: float = 90.0) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.environment, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log}")
                try:
                    if (await client.get(f"http://127.0.0.1:{self.port}{self.ready_path}")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
        raise RuntimeError(f"{self.name} did not become ready in {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # uvicorn's supervisor stops its workers
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def graphql(
    client: httpx.AsyncClient, url: str, query: str, variables: dict | None = None, token: str | None = None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(url, json={"query": query, "variables": variables}, headers=headers)
    answer = response.json()
    if response.status_code != 200 or answer.get("errors"):
        raise RuntimeError(f"{url}: HTTP {response.status_code} {json.dumps(answer, ensure_ascii=False)[:500]}")
    return answer["data"]


async def sign_in(client: httpx.AsyncClient, url: str, username: str, device_credential: str | None = None) -> str:
    """A token of an account of the demo password: persons and agents send their device's
    credential, a demo account's by default."""
    from demo.accounts import DEMO_PASSWORD, DEVICE_CREDENTIALS, USERNAMES

    credentials = {USERNAMES[role]: credential for role, credential in DEVICE_CREDENTIALS.items()}
    login = {
        "username": username,
        "password": DEMO_PASSWORD,
        "deviceCredential": device_credential or credentials.get(username),
    }
    payload = (await graphql(client, url, LOGIN, {"input": login}))["login"]
    if payload["errors"] or not payload["token"]:
        raise RuntimeError(f"{username} could not sign in: {payload['errors']}")
    return payload["token"]


async def kiosk_setup(client: httpx.AsyncClient, url: str, token: str) -> dict[str, Any]:
    """What a kiosk works on: its community's self-service persons and their open arrears."""
    data = await graphql(client, url, KIOSK_PERSONS, token=token)
    community = data["me"]["community"]
    flexible = [edge["node"] for edge in data["flexible"]["edges"]]
    uninsured = [edge["node"]["id"] for edge in data["uninsured"]["edges"]]
    return {
        "token": token,
        "community": community["id"],
        "district_code": community["code"][:6],
        "persons": [person["id"] for person in flexible] + uninsured,
        "open_arrears": [
            [person["id"], edge["node"]["id"]] for person in flexible for edge in person["arrears"]["edges"]
        ],
    }


def run_load(spec: dict[str, Any], *arguments: str) -> dict[str, Any]:
    """bench/load.py in a process of its own; its JSON summary."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as file:
        json.dump(spec, file, ensure_ascii=False)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.load", "--spec", file.name, *arguments],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(file.name)
    if done.returncode != 0:
        raise RuntimeError(f"the load process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def holds(result: dict[str, Any]) -> bool:
    """p95 under the target and no errors. The load is open: a server that cannot keep up makes the
    requests wait, and their latency, counted from when each was due, shows it."""
    overall = result["overall"]
    return overall["p95_ms"] < P95_TARGET_MS and overall["errors"] == 0


# ---------------------------------------------------------------------------------------------
# The machine and the report.


def machine() -> dict[str, Any]:
    versions = {
        name: metadata.version(name)
        for name in ("strawberry-graphql", "graphql-core", "uvicorn", "starlette", "tortoise-orm", "asyncpg", "httpx")
    }
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory": memory(),
        "os": platform.platform(),
        "python": python(),
        "packages": versions,
    }


def _row(name: str, numbers: dict[str, Any]) -> str:
    return (
        f"  {name:<24} {numbers['answered']:>7} {numbers['throughput']:>8.1f} {numbers['p50_ms']:>8.1f}"
        f" {numbers['p95_ms']:>8.1f} {numbers['p99_ms']:>8.1f} {numbers['user_errors']:>8} {numbers['errors']:>6}"
    )


def print_operations(result: dict[str, Any]) -> None:
    print(
        f"  {'operation':<24} {'answered':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'refused':>8} {'errors':>6}"
    )
    for name, numbers in result["operations"].items():
        print(_row(name, numbers))
    print(_row("all", result["overall"]))
    for name, numbers in result["operations"].items():
        if numbers["refusals"]:
            print(f"  {name} refused: " + ", ".join(f"{code} x{count}" for code, count in numbers["refusals"].items()))
    for example in result["overall"]["error_examples"]:
        print(f"  error: {example}")


# ---------------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server processes (default: cores)")
    parser.add_argument(
        "--server",
        default="postgres://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL server (any database on it); the benchmark's own database is made there",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--now", help="the moment the clock is held at (default: the 18th of this month, 10:00 local)")
    parser.add_argument(
        "--kiosks",
        type=int,
        default=200,
        help="community kiosks, demo.clerk's included, at most one for each community with arrears",
    )
    parser.add_argument("--agents", type=int, default=50, help="employer agents besides demo.agent, filing and reading")
    parser.add_argument("--port", type=int, default=8731, help="the product's port; the minimal apps' the next two")
    parser.add_argument("--start-rate", type=float, default=40.0, help="requests a second of the first step")
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--warmup-seconds", type=float, default=4.0)
    parser.add_argument("--max-steps", type=int, default=9)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients of the read-path comparison")
    parser.add_argument("--compare-seconds", type=float, default=15.0)
    parser.add_argument("--compare-rounds", type=int, default=2, help="the servers take turns this often")
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--skip-peak", action="store_true")
    parser.add_argument(
        "--log-level", default="INFO", help="the product servers' LOG_LEVEL (default INFO, as deployed)"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    local = dt.timezone(dt.timedelta(hours=8))
    today = dt.datetime.now(local)
    now = args.now or today.replace(day=18, hour=10, minute=0, second=0, microsecond=0).isoformat()
    from services.common import clock

    clock.freeze(now)
    this_month = clock.this_month()
    months = {"from": str(this_month.plus(-11)), "to": str(this_month)}

    name = f"shebao_peak_{uuid.uuid4().hex[:8]}"
    queue_name = f"shebao:bench:peak:{uuid.uuid4().hex[:8]}"
    database_url = args.server.rsplit("/", 1)[0] + f"/{name}"
    import asyncpg
    from redis.asyncio import Redis

    admin = await asyncpg.connect(postgres_dsn(args.server))
    redis = Redis.from_url(args.redis)
    results: dict[str, Any] = {"machine": machine(), "workers": args.workers, "now": now}
    servers: list[Server] = []
    logs = Path(tempfile.mkdtemp(prefix="shebao-peak-"))
    try:
        results["machine"]["postgresql"] = await admin.fetchval("SHOW server_version")
        results["machine"]["redis"] = (await redis.info("server"))["redis_version"]
        await admin.execute(f'CREATE DATABASE "{name}"')
        started = time.perf_counter()
        report, kiosk_usernames, agents = await create_city(
            database_url, args.persons, args.seed, args.kiosks, args.agents
        )
        results["data"] = {
            "persons": report.persons,
            "periods": report.periods,
            "arrears": report.arrears,
            "employers": report.employers,
            "seconds": round(time.perf_counter() - started, 1),
        }

        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": args.redis,
            "JOB_QUEUE_NAME": queue_name,
            "SHEBAO_NOW": now,
            "HOST": "127.0.0.1",
            "PORT": str(args.port),
            "LOG_LEVEL": args.log_level,
            "GRAPHIQL": "false",
            "BENCH_DATABASE_URL": database_url,
        }
        environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
        product = Server(
            "product",
            [sys.executable, "main.py", "serve", "--workers", str(args.workers)],
            environment,
            args.port,
            "/readyz",
            logs / "product.log",
        )

        def minimal_app(name: str, port: int, cache_documents: bool) -> Server:
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.minimal_app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ]
            return Server(
                name,
                command,
                {**environment, "BENCH_CACHE_DOCUMENTS": "1" if cache_documents else "0"},
                port,
                "/healthz",
                logs / f"{name}.log",
            )

        minimal = minimal_app("minimal", args.port + 1, cache_documents=False)
        minimal_cached = minimal_app("minimal-cached", args.port + 2, cache_documents=True)
        servers = [product, minimal, minimal_cached]
        await asyncio.gather(*(server.start() for server in servers))

        async with httpx.AsyncClient(timeout=60) as client:
            tokens = {username: await sign_in(client, product.url, username) for username in SIGNING_IN}
            signing_in = asyncio.Semaphore(4)

            async def sign_in_few_at_once(username: str, device_credential: str | None = None) -> str:
                async with signing_in:
                    return await sign_in(client, product.url, username, device_credential)

            kiosk_tokens = [tokens["demo.clerk"], *await asyncio.gather(*map(sign_in_few_at_once, kiosk_usernames))]
            agent_tokens = await asyncio.gather(
                *(sign_in_few_at_once(agent["username"], agent["credential"]) for agent in agents)
            )
            employer_agents = [{"token": token, "staff": agent["staff"]} for token, agent in zip(agent_tokens, agents)]
            reads = {
                "myRecords": {"operation": "myRecords", "token": tokens["demo.person"], "query": PERSON_RECORDS},
                "personsPage": {
                    "operation": "personsPage",
                    "token": tokens["demo.admin"],
                    "query": PERSONS_PAGE,
                    "variables": {"first": 50},
                },
            }
            for read in reads.values():
                ours = await graphql(client, product.url, read["query"], read.get("variables"), read["token"])
                for other in (minimal, minimal_cached):
                    theirs = await graphql(client, other.url, read["query"], read.get("variables"), read["token"])
                    if ours != theirs:
                        raise RuntimeError(f"{other.name} answers {read['operation']} otherwise:\n{ours}\n{theirs}")

        print_machine(results, args)

        if not args.skip_compare:
            results["compare"] = await compare(reads, servers, args)

        if not args.skip_peak:

            async def spec(step: int) -> dict[str, Any]:
                """The mix of a step, with what the kiosks have left to do (open arrears) as of now."""
                limit = asyncio.Semaphore(4)

                async def kiosk(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
                    async with limit:
                        return await kiosk_setup(client, product.url, token)

                async with httpx.AsyncClient(timeout=60) as client:
                    kiosks = await asyncio.gather(*(kiosk(client, token) for token in kiosk_tokens))
                setup = {
                    "tokens": tokens,
                    "kiosks": kiosks,
                    "agents": employer_agents,
                    "months": months,
                    "weights": DEFAULT_WEIGHTS,
                }
                return {
                    "url": product.url,
                    "mix": "bench.peak_day:PeakDayMix",
                    "setup": setup,
                    "seed": args.seed * 1000 + step,
                }

            results["peak"] = await step_up(spec, product, args)
    finally:
        for server in servers:
            server.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        keys = [key async for key in redis.scan_iter(match=f"*{queue_name}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"server logs: {logs}")


def print_machine(results: dict[str, Any], args: argparse.Namespace) -> None:
    m = results["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; {m['os']}")
    print(
        f"         {m['python']}, PostgreSQL {m['postgresql']}, Redis {m['redis']}; "
        + ", ".join(f"{name} {version}" for name, version in m["packages"].items())
    )
    data = results["data"]
    print(
        f"data: {data['persons']} persons, {data['periods']} months, {data['arrears']} arrears, "
        f"{data['employers']} employers (seeded in {data['seconds']} s); clock held at {results['now']}"
    )
    print(
        f"servers: uvicorn, {args.workers} worker processes each; load from one process on loopback "
        "(asyncio + httpx, HTTP/1.1 keep-alive)"
    )
    sys.stdout.flush()


async def compare(reads: dict[str, dict[str, Any]], servers: list[Server], args: argparse.Namespace) -> dict[str, Any]:
    """Each read by each server in turn, ``compare_rounds`` times; throughput ratios to the product's."""
    print(
        f"\nread path, product against the minimal graphql-core app (graphql() for each request, and with its "
        f"documents cached): {args.clients} clients, closed loop, {args.compare_rounds} x {args.compare_seconds:.0f} s "
        "each, taking turns"
    )
    figures: dict[str, Any] = {}
    product, *minimal_apps = servers
    for operation, read in reads.items():
        rounds: dict[str, list[dict[str, Any]]] = {server.name: [] for server in servers}
        for _ in range(args.compare_rounds):
            for server in servers:
                spec = {"url": server.url, "mix": "bench.peak_day:ReadMix", "setup": read}
                result = await asyncio.to_thread(
                    run_load,
                    spec,
                    "--clients",
                    str(args.clients),
                    "--duration",
                    str(args.compare_seconds),
                    "--warmup",
                    "3",
                )
                if result["overall"]["errors"]:
                    raise RuntimeError(f"{server.name} failed {operation}: {result['overall']['error_examples']}")
                rounds[server.name].append(result["overall"])
        throughput = {name: sum(r["throughput"] for r in runs) / len(runs) for name, runs in rounds.items()}
        ratios = {other.name: throughput[product.name] / throughput[other.name] for other in minimal_apps}
        figures[operation] = {"rounds": rounds, "throughput": throughput, "ratios": ratios}
        for name, runs in rounds.items():
            print(
                f"  {operation:<12} {name:<15} "
                + "  ".join(
                    f"{r['throughput']:7.1f} req/s (p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms)" for r in runs
                )
            )
        print(
            f"  {operation:<12} throughput ratio, product to "
            + ", ".join(f"{name}: {ratio:.2f}" for name, ratio in ratios.items())
        )
        sys.stdout.flush()
    return figures


async def drained(server: Server, timeout: float = 120.0) -> None:
    """Wait until the server answers at once again: requests of a step it could not keep up with
    are still being served after their clients gave up."""
    deadline = time.monotonic() + timeout
    quick = 0
    async with httpx.AsyncClient(timeout=timeout) as client:
        while quick < 5 and time.monotonic() < deadline:
            started = time.perf_counter()
            await client.get(f"http://127.0.0.1:{server.port}/healthz")
            quick = quick + 1 if time.perf_counter() - started < 0.02 else 0
            await asyncio.sleep(0.2)


async def step_up(spec_of: Any, product: Server, args: argparse.Namespace) -> dict[str, Any]:
    """Open-loop steps: up by half while p95 holds under the target, then halving the gap."""
    print(
        f"\npeak-day mix, open loop, {args.step_seconds:.0f} s a step after {args.warmup_seconds:.0f} s warm-up; "
        f"a rate holds when p95 < {P95_TARGET_MS:.0f} ms with no errors"
    )
    print(
        "  weights: "
        + ", ".join(f"{name} {weight}" for name, weight in DEFAULT_WEIGHTS.items())
        + f"; {PAY_RETRY_SHARE:.0%} of payArrears are retries of an answered request"
    )
    steps: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any]] | None = None
    failed_at: float | None = None
    rate = args.start_rate
    for step in range(args.max_steps):
        spec = await spec_of(step)
        result = await asyncio.to_thread(
            run_load,
            spec,
            "--rate",
            f"{rate:.1f}",
            "--duration",
            str(args.step_seconds),
            "--warmup",
            str(args.warmup_seconds),
        )
        overall = result["overall"]
        held = holds(result)
        steps.append({"rate": rate, "held": held, "result": result})
        print(
            f"  {rate:7.1f} req/s offered: {overall['throughput']:7.1f} answered/s, p50 {overall['p50_ms']:.1f} ms,"
            f" p95 {overall['p95_ms']:.1f} ms, p99 {overall['p99_ms']:.1f} ms, errors {overall['errors']}"
            f" -> {'holds' if held else 'does not hold'}"
        )
        sys.stdout.flush()
        if held:
            best = (rate, result)
            rate = rate * 1.5 if failed_at is None else (rate + failed_at) / 2
        else:
            failed_at = rate
            rate = (best[0] + failed_at) / 2 if best else rate / 2
        if best and failed_at and failed_at / best[0] < 1.08:
            break
        await drained(product)
    if best is None:
        print("  no rate held")
        return {"steps": steps, "highest_rate": None}
    print(f"\nhighest rate held: {best[0]:.1f} requests/s ({args.workers} workers)")
    print_operations(best[1])
    return {"steps": steps, "highest_rate": best[0], "at_highest": best[1]}


if __name__ == "__main__":
    asyncio.run(main())
