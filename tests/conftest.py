"""Shared fixtures: a real app on a real store, once per storage backend.

Every fixture that reaches a store (``empty_store``, ``demo_db``, ``demo_copy``, ``app``,
``client``, ``anon``, ``login_as``, ``store``) runs each test twice: on a GeoPackage file in a
temporary folder (``[gpkg]``) and on a PostgreSQL + PostGIS database (``[postgis]``), cloned
from a template with ``CREATE DATABASE … TEMPLATE`` and dropped afterwards. Tests of
GeoPackage internals carry ``@pytest.mark.gpkg_only``; ``@pytest.mark.postgis_only`` the reverse.

PostGIS: ``GISAPP_TEST_POSTGRES`` (default ``postgresql://gisapp:gisapp@127.0.0.1:5432/gisapp``, what
``scripts/postgres.sh`` sets up) must reach a role that may create databases, and the template
database ``GISAPP_TEST_PG_TEMPLATE`` (default ``gisapp_template``) must hold PostGIS. Without a
server the PostGIS half is skipped with the reason, unless ``GISAPP_TEST_REQUIRE_POSTGIS=1`` (CI).
"""
from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from gisapp import create_app
from gisapp.registry import load_registry
from gisapp.storage import open_store

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ROOT / "layers"
BACKENDS = ("gpkg", "postgis")
PG_URL = os.environ.get("GISAPP_TEST_POSTGRES", "postgresql://gisapp:gisapp@127.0.0.1:5432/gisapp")
PG_TEMPLATE = os.environ.get("GISAPP_TEST_PG_TEMPLATE", "gisapp_template")
REQUIRE_POSTGIS = os.environ.get("GISAPP_TEST_REQUIRE_POSTGIS") == "1"

# Tests (by module or by fixture) that copy the demo GeoPackage file with shutil: GeoPackage only
# until they take their copy with clone_demo() below.
GPKG_FILE_MODULES = {"test_backup.py": "backups copy GeoPackage files (PostGIS uses pg_dump)"}
GPKG_FILE_FIXTURES = {"mod_app"}  # tests/test_snapshot.py


def pytest_configure(config):
    config.addinivalue_line("markers", "gpkg_only: runs on the GeoPackage store only (GeoPackage internals)")
    config.addinivalue_line("markers", "postgis_only: runs on the PostGIS store only")


def pytest_generate_tests(metafunc):
    if "backend" not in metafunc.fixturenames:
        return
    backends = list(BACKENDS)
    module = Path(str(metafunc.definition.fspath)).name
    if (metafunc.definition.get_closest_marker("gpkg_only") or module in GPKG_FILE_MODULES
            or GPKG_FILE_FIXTURES & set(metafunc.fixturenames)):
        backends = ["gpkg"]
    elif metafunc.definition.get_closest_marker("postgis_only"):
        backends = ["postgis"]
    metafunc.parametrize("backend", backends, indirect=True, scope="session")


# --- the PostgreSQL server ------------------------------------------------------------------------

def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class PgServer:
    """Creates and drops this session's databases (names carry the pid: other sessions run too)."""

    def __init__(self, url: str):
        import psycopg
        self.url = url
        self.conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        has = self.conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_TEMPLATE,)).fetchone()
        if not has:
            self.conn.close()
            raise RuntimeError(f"no template database {PG_TEMPLATE} (run scripts/postgres.sh)")
        self.prefix = f"gisapp_t{os.getpid()}_"
        self.counter = itertools.count()
        self.created: list[str] = []
        self.drop_leftovers()

    def drop_leftovers(self) -> None:
        """Databases of test sessions that died before cleaning up (their process is gone)."""
        import psycopg
        rows = self.conn.execute(r"SELECT datname FROM pg_database WHERE datname LIKE 'gisapp\_t%\_%'").fetchall()
        for (name,) in rows:
            pid = name[len("gisapp_t"):].split("_", 1)[0]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            try:
                self.conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            except psycopg.Error:
                pass  # in use after all: leave it

    def create(self, template: str = PG_TEMPLATE, label: str = "db") -> str:
        name = f"{self.prefix}{next(self.counter)}_{label}"
        self.conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.created.append(name)
        return name

    def url_of(self, name: str) -> str:
        return with_database(self.url, name)

    def drop(self, name: str) -> None:
        """Clean-up only: a database still in use is retried a few times, then left behind (throw-away CI server)."""
        import time
        import psycopg
        for attempt in range(5):
            try:
                self.conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except psycopg.Error:
                time.sleep(0.2 * (attempt + 1))
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            self.drop(name)
        self.conn.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_pg_state: dict = {}


def pg_server() -> PgServer:
    """The session's server helper; skips (or, in CI, fails) when there is no usable server."""
    if "server" not in _pg_state and "error" not in _pg_state:
        try:
            _pg_state["server"] = PgServer(PG_URL)
        except Exception as exc:  # noqa: BLE001 - any failure means: no PostGIS here
            _pg_state["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    if "error" in _pg_state:
        reason = (f"no PostgreSQL + PostGIS server for the tests at {PG_URL.split('@')[-1]} "
                  f"({_pg_state['error']}); run `bash scripts/postgres.sh` as root or set GISAPP_TEST_POSTGRES")
        if REQUIRE_POSTGIS:
            pytest.fail(reason)
        pytest.skip(reason)
    return _pg_state["server"]


def pytest_sessionfinish(session, exitstatus):
    server = _pg_state.pop("server", None)
    if server is not None:
        server.close()


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def backend(request) -> str:
    """``gpkg`` or ``postgis`` (parametrized by pytest_generate_tests)."""
    if request.param == "postgis":
        pg_server()
    return request.param


@pytest.fixture(scope="session")
def registry():
    return load_registry(LAYERS)


@pytest.fixture(scope="session")
def _pg_empty(backend, registry):
    """A PostGIS database with every gisapp table and no data, cloned per test."""
    if backend != "postgis":
        return None
    server = pg_server()
    name = server.create(label="empty")
    store = open_store(server.url_of(name), registry)
    store.initialize()
    store.close()
    return name


@pytest.fixture
def empty_store(backend, _pg_empty, tmp_path, registry):
    if backend == "gpkg":
        store = open_store(str(tmp_path / "empty.gpkg"), registry)
        store.initialize()
        yield store
        store.close()
        return
    server = pg_server()
    name = server.create(_pg_empty, "empty")
    store = open_store(server.url_of(name), registry)
    store.initialize()
    yield store
    store.close()
    server.drop(name)


@pytest.fixture(scope="session")
def demo_db(backend, tmp_path_factory):
    """A demo store made once per session by the real start-up path; copy before writing
    (``demo_copy`` or ``clone_demo``). A Path for GeoPackage, a URL for PostGIS."""
    if backend == "gpkg":
        path = tmp_path_factory.mktemp("demo") / "demo.gpkg"
        app = create_app({"DATABASE": str(path), "TESTING": True})
        app.extensions["gisapp"]["store"].checkpoint()  # copies of the file alone must hold everything
        return path
    server = pg_server()
    master = server.create(label="demo_master")  # cloned for every copy; nobody else connects to it
    app = create_app({"DATABASE": server.url_of(master), "TESTING": True})
    app.extensions["gisapp"]["store"].close()
    _pg_state["demo_master"] = master
    return server.url_of(server.create(master, "demo"))  # for tests that only read demo_db


def clone_demo(demo_db, folder: Path) -> str:
    """A private copy of the demo store as a DATABASE value: a file in ``folder`` or a new database."""
    if isinstance(demo_db, Path):
        path = folder / "demo.gpkg"
        shutil.copy(demo_db, path)
        return str(path)
    server = pg_server()
    return server.url_of(server.create(_pg_state["demo_master"], "copy"))


@pytest.fixture
def demo_copy(demo_db, tmp_path):
    copy = clone_demo(demo_db, tmp_path)
    if isinstance(demo_db, Path):
        yield Path(copy)
        return
    yield copy
    pg_server().drop(urlsplit(copy).path.lstrip("/"))


@pytest.fixture
def app(demo_copy):
    app = create_app({"DATABASE": str(demo_copy), "TESTING": True})
    yield app
    app.extensions["gisapp"]["store"].close()


# the demo accounts (gisapp.demo.load.DEMO_USERS), one per role
ROLE_USERS = {"viewer": "planner", "field": "wangge", "handler": "handler", "official": "leader", "admin": "admin"}
DEMO_PASSWORD = "gisapp-demo"


def logged_in(app, username):
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["user"] = username
    return client


@pytest.fixture
def client(app):
    """A client logged in as the demo admin."""
    return logged_in(app, "admin")


@pytest.fixture
def anon(app):
    return app.test_client()


@pytest.fixture
def login_as(app):
    return lambda role: logged_in(app, ROLE_USERS[role])


@pytest.fixture
def store(app):
    return app.extensions["gisapp"]["store"]
