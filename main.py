"""The ASGI application (``main:app``, built by ``create_app``) and the command line.

python main.py serve [--workers N] [--reload] [--demo [--demo-persons N]]
python main.py migrate
python main.py makemigrations [--name NAME]
python main.py seed [--persons N] [--seed S]
python main.py worker
python main.py export-schema [--output schema.graphql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from strawberry import Schema

from jobs.queue import close_job_queue, open_job_queue
from jobs.registry import run_job
from jobs.runner import sweep_forever
from models.database import apply_migrations, close_database, open_database
from server.cors import cors_middleware
from server.health import health_routes
from server.observability import ObservabilityMiddleware, configure_logging, metrics_routes, serve_metrics
from server.view import GRAPHIQL_ASSETS, GraphQLView
from services.common import clock
from services.common.notices import close_notices, open_notices
from settings import Settings, get_settings

# A request allocates tens of thousands of short-lived objects, nearly all freed by reference
# counting: collecting the youngest generation every 700 allocations (the default) costs a
# server more than the cycles it finds.
SERVER_GC_THRESHOLD = (50_000, 50, 100)


def create_app(
    settings: Settings | None = None, *, schema: Schema | None = None, tune_gc: bool | None = None
) -> Starlette:
    """The application. ``tune_gc`` (by default when the settings come from the environment, as in
    the processes ``serve`` starts): once started up, what the start-up built (modules, the schema,
    the settings) is left out of garbage collection for good, and the collector runs less often."""
    if tune_gc is None:
        tune_gc = settings is None
    settings = settings or get_settings()
    if schema is None:
        from schema import root  # here, so that the other commands never load the schema

        schema = root.schema if settings.introspection else root.schema_without_introspection()
    configure_logging(settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.frozen_now:
            clock.freeze(settings.frozen_now)
        await open_database(settings, shared_with_other_tasks=True)
        open_job_queue(settings, run_job)
        # In-process jobs have no worker to sweep for them: the server does, so that what a killed
        # server left QUEUED or RUNNING runs again (with Redis, the arq workers sweep).
        sweeper = None if settings.redis_url else asyncio.create_task(sweep_forever(settings.job_sweep_seconds))
        await open_notices(settings)
        stop_listening = graphql.listen_for_ended_sessions()  # sockets close as sessions end (A8)
        if tune_gc:
            gc.collect()
            gc.freeze()
            gc.set_threshold(*SERVER_GC_THRESHOLD)
        try:
            yield
        finally:
            stop_listening()
            await close_notices()
            if sweeper is not None:
                sweeper.cancel()
                await asyncio.gather(sweeper, return_exceptions=True)
            await close_job_queue()
            await close_database()

    graphql = GraphQLView(schema, settings)
    routes = [
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        *health_routes(settings),
        *metrics_routes(settings),
    ]
    if settings.graphiql_enabled:
        routes.append(Mount("/graphiql", StaticFiles(directory=GRAPHIQL_ASSETS), name="graphiql"))
    middleware = [Middleware(ObservabilityMiddleware)]
    if settings.cors_origins:  # outermost, so that refusals and errors carry the CORS headers too
        middleware.insert(0, cors_middleware(settings.cors_origins))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def __getattr__(name: str) -> Starlette:
    # `main:app` is built on first use, for the same reason.
    if name == "app":
        application = globals()["app"] = create_app()
        return application
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Handler = Callable[[Settings, argparse.Namespace], None]


def serve(settings: Settings, args: argparse.Namespace) -> None:
    if settings.uses_embedded_database:
        asyncio.run(apply_migrations(settings))
    if args.demo:
        asyncio.run(load_demo_city(settings, persons=args.demo_persons, seed=0))
    with contextlib.ExitStack() as stack:
        if (args.workers > 1 or args.reload) and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # Each worker process writes its metrics here, so that /metrics sums them all.
            metrics_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="shebao-metrics-"))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            stack.callback(os.environ.pop, "PROMETHEUS_MULTIPROC_DIR", None)
        if settings.metrics_port is not None:
            metrics = serve_metrics(settings)
            stack.callback(metrics.server_close)
            stack.callback(metrics.shutdown)
        uvicorn.run(
            "main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=args.workers,
            reload=args.reload,
            log_config=None,  # keep the JSON logging configured by create_app
            access_log=False,  # the observability middleware writes the access log
            proxy_headers=False,  # X-Forwarded-For is read only from TRUSTED_PROXIES (resolvers.viewer)
            # uvicorn kills a server process that misses one health check (5 s by default): on a
            # machine loaded at peak that replaced busy children over and over, serving no one.
            timeout_worker_healthcheck=settings.worker_healthcheck_timeout,
        )


def migrate(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(apply_migrations(settings))
    print("Database migrated.")


def makemigrations(settings: Settings, args: argparse.Namespace) -> None:
    from models.migration_files import make_migrations

    written = asyncio.run(make_migrations(settings, args.name))
    for path in written:
        print(f"Wrote {path}")
    if not written:
        print("No changes: the migrations match the models.")


async def load_demo_city(settings: Settings, persons: int, seed: int, *, already_loaded_is_fine: bool = True) -> None:
    from tortoise.transactions import in_transaction

    from demo.accounts import DemoCityTooSmall, accounts_table, create_demo_accounts
    from demo.city import CityAlreadySeeded, seed_city

    if settings.uses_embedded_database:
        await apply_migrations(settings)
    await open_database(settings)
    try:
        async with in_transaction():  # the city and its demo accounts, or neither
            report = await seed_city(persons=persons, seed=seed)
            accounts = await create_demo_accounts(seed=seed)
        print(report)
        print(accounts_table(accounts))
    except CityAlreadySeeded as exc:
        if not already_loaded_is_fine:
            raise SystemExit(str(exc)) from None
        print(f"{exc}: serving it as it is.")
    except DemoCityTooSmall as exc:
        raise SystemExit(str(exc)) from None
    finally:
        await close_database()


def seed(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(load_demo_city(settings, args.persons, args.seed, already_loaded_is_fine=False))


def worker(settings: Settings, args: argparse.Namespace) -> None:
    if not settings.redis_url:
        raise SystemExit("REDIS_URL is not set: without Redis, jobs run inside the server process.")
    from arq import run_worker

    from jobs.worker import WorkerSettings

    run_worker(WorkerSettings)


def export_schema(settings: Settings, args: argparse.Namespace) -> None:
    from schema.root import schema

    Path(args.output).write_text(schema.as_str() + "\n", encoding="utf-8")
    print(f"Wrote {args.output}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="Shebao Hall: social-insurance online service hall")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Handler, summary: str) -> argparse.ArgumentParser:
        subparser = commands.add_parser(name, help=summary, description=summary)
        subparser.set_defaults(handler=handler)
        return subparser

    serve_parser = command("serve", serve, "Run the HTTP server (migrating the embedded SQLite database first).")
    serve_parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    serve_parser.add_argument("--reload", action="store_true", help="restart when the code changes")
    serve_parser.add_argument("--demo", action="store_true", help="first load a demo city, unless one is there")
    serve_parser.add_argument("--demo-persons", type=int, default=3000, help="persons of the demo city (default 3000)")
    command("migrate", migrate, "Apply the pending migrations.")
    makemigrations_parser = command("makemigrations", makemigrations, "Write migrations for changed models.")
    makemigrations_parser.add_argument("--name", help="suffix of the migration file name")
    seed_parser = command("seed", seed, "Fill the database with a generated demo city.")
    seed_parser.add_argument("--persons", type=int, default=1000, help="insured persons to create (default 1000)")
    seed_parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    command("worker", worker, "Run an arq worker for the jobs queued in Redis.")
    export_parser = command("export-schema", export_schema, "Write the GraphQL schema as SDL.")
    export_parser.add_argument("--output", default="schema.graphql", help="file to write (default schema.graphql)")
    return parser


def main(argv: list[str] | None = None, settings: Settings | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    if settings.frozen_now:
        clock.freeze(settings.frozen_now)
    args.handler(settings, args)


if __name__ == "__main__":
    main()
