"""Shared fixtures: a clean store on SQLite and on PostgreSQL, and paths to ../shared."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from watcher.config import Config, load_config
from watcher.match import TopicIndex
from watcher.store import Base, Store

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shipped_config() -> Config:
    """The shipped feeds.yaml, as `watcher` reads it with no environment."""
    return load_config(REPO / "feeds.yaml", environ={})


@pytest.fixture(scope="session")
def shipped_leader_travel(shipped_config: Config) -> TopicIndex:
    """The shipped leader-travel topic with the shipped feeds.yaml's lists."""
    topics = [topic for topic in shipped_config.topics if topic.name == "leader-travel"]
    return TopicIndex.build(topics, shipped_config.lists)


@pytest.fixture(scope="session")
def shipped_travel_probe(shipped_config: Config) -> TopicIndex:
    """The probe query of the ABROAD rules' tests with the shipped feeds.yaml's lists."""
    from tests.matching import TRAVEL_PROBE
    from watcher.config import TopicConfig

    return TopicIndex.build([TopicConfig(name="probe", query=TRAVEL_PROBE)], shipped_config.lists)


# The compiled-lists cache of the tests and of every `watcher` they start: one folder
# in the temporary directory, shared by the xdist workers (files are written
# atomically), never the developer's ~/.cache. Keyed by content, so it may outlive runs.
os.environ.setdefault(
    "WATCHER_CACHE_DIR", os.path.join(tempfile.gettempdir(), f"watcher-tests-cache-{os.getuid()}")
)


def shared_dir(*parts: str) -> Path:
    """A folder of ../shared, or skip (fail under CI) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing; CI runs with ../shared beside the repository")
        pytest.skip(f"{path} is absent (the shared test data lives beside the repository)")
    return path


def _postgres_url() -> str:
    url = os.environ.get("WATCHER_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "WATCHER_TEST_DATABASE_URL is not set; CI must run the store suite on "
                "PostgreSQL (.ci/run sets it)"
            )
        pytest.skip("set WATCHER_TEST_DATABASE_URL to run the PostgreSQL store tests")
    return url


@contextmanager
def _fresh_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new schema, dropped on leaving."""
    base = make_url(_postgres_url())
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    with _fresh_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean database URL: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'watcher.db'}"
    return str(request.getfixturevalue("postgres_url"))


# Running the migrations costs 0.15-0.5 s a store; the stores below start from a
# database migrated once per session (per xdist worker) instead. The migrations
# still run for real on each backend, and test_store checks their result.


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file; a store's database is a copy of it."""
    path = tmp_path_factory.mktemp("migrated") / "watcher.db"
    with Store.open(f"sqlite:///{path}") as template:
        template.upgrade()
    return path


@pytest.fixture(scope="session")
def migrated_postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL schema, emptied for each store that uses it."""
    with _fresh_schema() as url:
        with Store.open(url) as template:
            template.upgrade()
        yield url


def _copy_of(template: Path, folder: Path) -> str:
    path = folder / "watcher.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def _emptied(url: str) -> str:
    """Every table of ``url`` emptied and its identities restarted: as migrated."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            # A test that left a connection in a transaction must fail here, not hang.
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        url = _copy_of(request.getfixturevalue("migrated_sqlite_file"), tmp_path)
    else:
        url = _emptied(request.getfixturevalue("migrated_postgres_url"))
    opened = Store.open(url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_store(migrated_sqlite_file: Path, tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(_copy_of(migrated_sqlite_file, tmp_path))
    try:
        yield opened
    finally:
        opened.close()
