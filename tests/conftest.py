"""Shared fixtures: real databases and brokers, one set per xdist worker.

`part_engine(part, backend)` gives a migrated, empty database of one part on SQLite or
PostgreSQL. PostgreSQL and RabbitMQ come from INDBETALING_TEST_POSTGRES_URL and
INDBETALING_TEST_AMQP_URL (scripts/with_services.py sets them); without them the tests that need
them skip, except under CI=true, where they fail.

Two tiers: every test that needs PostgreSQL or RabbitMQ is marked `postgres` or `rabbitmq` here
at collection, and those and the heavy ones (marked by hand) are `slow`. `-m "not slow"` is the
fast tier: every rule on SQLite and in memory, no service needed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.engine import make_url

from indbetaling import throwaway
from indbetaling.db import FORBID_ON_EVENT_LOOP_ENV, make_engine, migrate

# Every engine the tests make, and every server they start, refuses database work on an event
# loop's thread: a blocking call inside an `async def` fails the test that reaches it.
os.environ.setdefault(FORBID_ON_EVENT_LOOP_ENV, "1")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite", "postgres"]
RABBITMQ_FIXTURES = {"amqp_url", "rabbit_node"}
SLOW_DIRS = {  # real processes: `indbetaling run`, or each part served alone
    Path(__file__).parent / "e2e",
    Path(__file__).parent / "production",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what needs a service: a `backend` of "postgres" (from the `backend` fixture or a
    test's own parametrize) or a RabbitMQ fixture. Both are slow, so the fast tier needs none;
    so are the end-to-end tests. Heavy tests elsewhere carry `@pytest.mark.slow` themselves."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgres":
            item.add_marker("postgres")
        if RABBITMQ_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("rabbitmq")
        if (
            item.get_closest_marker("postgres")
            or item.get_closest_marker("rabbitmq")
            or SLOW_DIRS & set(item.path.parents)
        ):
            item.add_marker("slow")


def require_service(env_var: str, what: str) -> str:
    url = os.environ.get(env_var)
    if url:
        return url
    message = f"{what} is not configured ({env_var}); run the tests through `make test`"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)  # only outside CI: under CI=true it failed above


@pytest.fixture(scope="session")
def worker_id_str(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    return require_service("INDBETALING_TEST_POSTGRES_URL", "PostgreSQL")


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return require_service("INDBETALING_TEST_AMQP_URL", "RabbitMQ")


class PartDatabases:
    """Migrated databases, one per (part, backend) for this worker, emptied between tests."""

    def __init__(self, tmp_root: Path, worker: str) -> None:
        self.tmp_root = tmp_root
        self.worker = worker
        self.templates: dict[str, Path] = {}
        self.pg_engines: dict[str, Engine] = {}
        self.pg_emptying: dict[str, str] = {}  # part -> its TRUNCATE, its tables read once

    def sqlite(self, part: str, path: Path) -> Engine:
        template = self.templates.get(part)
        if template is None:
            template = self.tmp_root / f"template-{part}.sqlite"
            engine = make_engine(f"sqlite:///{template}")
            migrate(engine, part)
            engine.dispose()  # the last connection's close folds the WAL into the file
            self.templates[part] = template
        path.write_bytes(template.read_bytes())
        return make_engine(f"sqlite:///{path}")

    def postgres(self, part: str, admin_url: str) -> Engine:
        engine = self.pg_engines.get(part)
        if engine is None:
            name = f"test_{self.worker}_{part}".lower()
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            engine = make_engine(url, pool_size=20, max_overflow=20)
            migrate(engine, part)
            self.pg_engines[part] = engine
            self.pg_emptying[part] = truncate_statement(engine)
        with engine.begin() as conn:
            conn.execute(text(self.pg_emptying[part]))
        return engine


def truncate_statement(engine: Engine) -> str:
    """A TRUNCATE of every table the migrations made, so a test starts on empty tables."""
    meta = MetaData()
    meta.reflect(engine)
    names = [t.name for t in meta.sorted_tables if not t.name.startswith("alembic_version")]
    quoted = ", ".join(f'"{n}"' for n in names)
    return f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"


@pytest.fixture(scope="session")
def part_databases(
    tmp_path_factory: pytest.TempPathFactory, worker_id_str: str
) -> Iterator[PartDatabases]:
    dbs = PartDatabases(tmp_path_factory.mktemp("templates"), worker_id_str)
    yield dbs
    for engine in dbs.pg_engines.values():
        engine.dispose()


PartEngine = Callable[[str, str], Engine]


@pytest.fixture
def part_engine(
    part_databases: PartDatabases, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[PartEngine]:
    made: list[Engine] = []

    def factory(part: str, backend: str) -> Engine:
        if backend == "sqlite":
            engine = part_databases.sqlite(part, tmp_path / f"{part}.sqlite")
            made.append(engine)
            return engine
        if request.node.get_closest_marker("postgres") is None:
            pytest.fail("PostgreSQL without backend='postgres' in the test's parameters")
        admin_url = request.getfixturevalue("postgres_admin_url")
        return part_databases.postgres(part, admin_url)

    yield factory
    for engine in made:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rabbit_node(
    amqp_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[throwaway.RabbitNode]:
    """A RabbitMQ node of this test's own, so it can restart it without disturbing others."""
    del amqp_url  # required like every RabbitMQ test: fails under CI=true when missing
    if not throwaway.RABBITMQ_SERVER.exists():
        message = "rabbitmq-server is not installed; this test restarts a node of its own"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)  # only outside CI: under CI=true it failed above
    node = throwaway.RabbitNode(tmp_path_factory.mktemp("rabbit"), throwaway.free_port())
    node.start()
    try:
        yield node
    finally:
        node.close()
