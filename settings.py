"""Configuration from the environment, with embedded defaults so that only Python is needed."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_DATABASE_URL = "sqlite://shebao.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = Field(EMBEDDED_DATABASE_URL, description="sqlite://FILE or postgres://USER@HOST:PORT/DB")
    redis_url: str | None = Field(None, description="arq's queue; unset runs jobs in-process")
    host: str = "127.0.0.1"
    port: int = 8000
    graphiql: bool | None = Field(
        None, description="GraphiQL at GET /graphql; default on only for the embedded database, with introspection"
    )
    log_level: str = "INFO"
    frozen_now: str | None = Field(
        None,
        alias="SHEBAO_NOW",
        description="ISO datetime the clock is held at (demo and tests); unset is the real time",
    )
    media_dir: str = "media"
    card_applications_per_day: int = Field(
        5, ge=1, description="medical-card applications (each a photo to check) a person may make in a day"
    )
    max_query_depth: int = 12
    max_query_aliases: int = 30
    max_query_tokens: int = 5000
    max_query_cost: int = 50_000
    max_upload_bytes: int = 10 * 1024 * 1024
    introspection: bool = Field(True, description="answer __schema and __type; off is advised in production")
    metrics_token: SecretStr | None = Field(None, description="/metrics asks for Authorization: Bearer <token>")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="/metrics on this port only, served by `serve` itself"
    )
    metrics_host: str | None = Field(None, description="the address of METRICS_PORT; default HOST")
    worker_healthcheck_timeout: int = Field(
        60,
        ge=1,
        description="seconds a server process of `serve --workers N` may take to answer its supervisor's "
        "health check before it is killed and replaced: a busy machine is slow, not down",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses of the reverse proxies whose X-Forwarded-For names the real client (login throttling)",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="origins of browser clients admitted from other sites; none: the same origin only",
    )
    job_queue_name: str = Field("shebao:jobs", description="arq queue shared by the servers and workers")
    job_max_tries: int = Field(5, description="attempts of a job that fails for a transient reason")
    job_stale_seconds: float = Field(120, description="a running job silent this long is taken to be dead")
    job_sweep_seconds: float = Field(
        30, description="how often each worker looks in the database for jobs to queue again or take over"
    )
    job_queued_degraded_seconds: float = Field(
        300, description="a job waiting this long for a runner makes /readyz say degraded"
    )
    # Rate limits in the `limits` notation, several joined by ";" (services.common.rate_limits).
    sign_in_limit_per_address: str = Field(
        "300/minute;3000/hour", description="login and installCertificate attempts from one client address"
    )
    sign_in_limit_per_account: str = Field(
        "20/minute;200/day", description="login and installCertificate attempts with one username"
    )
    unknown_person_lines_limit: str = Field(
        "1000/hour;3000/day",
        description="addEmployees lines, per account, about persons the employer has never employed",
    )

    @field_validator("sign_in_limit_per_address", "sign_in_limit_per_account", "unknown_person_lines_limit")
    @classmethod
    def _rate_limits(cls, notation: str) -> str:
        parse_many(notation)  # a ValueError naming the setting, at start-up rather than at a login
        return notation

    @model_validator(mode="after")
    def _metrics_port_of_its_own(self) -> Settings:
        if self.metrics_port == self.port and (self.metrics_host or self.host) == self.host:
            raise ValueError("METRICS_PORT must differ from PORT: /metrics moves to a port of its own")
        return self

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def graphiql_enabled(self) -> bool:
        # GraphiQL learns the schema by introspection
        default = self.uses_embedded_database and self.introspection
        return default if self.graphiql is None else self.graphiql

    def tortoise_config(self) -> dict:
        return {
            "connections": {"default": _connection(self.database_url)},
            "apps": {
                "models": {
                    "models": ["models"],
                    "migrations": "migrations",
                    "default_connection": "default",
                }
            },
            "use_tz": True,
            "timezone": "Asia/Shanghai",
        }


def _connection(database_url: str) -> str | dict:
    """Tortoise's connection: the URL, or for asyncpg the same expanded, with its pool's reset."""
    if database_url.startswith("sqlite"):
        return database_url
    from tortoise.backends.base.config_generator import expand_db_url

    connection = expand_db_url(database_url)
    if connection["engine"] == "tortoise.backends.asyncpg":
        connection["credentials"].setdefault("reset", release_as_is)
    return connection


async def release_as_is(connection: Any) -> None:
    """What asyncpg's pool does to a connection given back, besides what it always does (roll back
    a transaction left open): nothing. Its default reset sends the server a query (unlock advisory
    locks, close cursors, UNLISTEN, RESET ALL) on every release, and Tortoise takes a connection
    from the pool for each query, so that doubled the round trips. The application keeps no session
    state on pooled connections: no session SET, advisory lock, LISTEN or held cursor."""


@lru_cache
def get_settings() -> Settings:
    return Settings()


# Read by `python -m tortoise makemigrations` through [tool.tortoise] in pyproject.toml.
TORTOISE_ORM = get_settings().tortoise_config()
