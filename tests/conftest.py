"""Shared fixtures: real GeoPackage files in temporary folders, a real app."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gisapp import create_app
from gisapp.registry import load_registry
from gisapp.storage import open_store

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ROOT / "layers"


@pytest.fixture(scope="session")
def registry():
    return load_registry(LAYERS)


@pytest.fixture
def empty_store(tmp_path, registry):
    store = open_store(str(tmp_path / "empty.gpkg"), registry)
    store.initialize()
    yield store
    store.close()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """A demo store made once per session by the real start-up path; copy before writing."""
    path = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    app = create_app({"DATABASE": str(path), "TESTING": True})
    app.extensions["gisapp"]["store"].checkpoint()  # copies of the file alone must hold everything
    return path


@pytest.fixture
def demo_copy(demo_db, tmp_path) -> Path:
    path = tmp_path / "demo.gpkg"
    shutil.copy(demo_db, path)
    return path


@pytest.fixture
def app(demo_copy):
    return create_app({"DATABASE": str(demo_copy), "TESTING": True})


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
