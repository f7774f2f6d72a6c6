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
    create_app({"DATABASE": str(path), "TESTING": True})
    return path


@pytest.fixture
def demo_copy(demo_db, tmp_path) -> Path:
    path = tmp_path / "demo.gpkg"
    shutil.copy(demo_db, path)
    return path


@pytest.fixture
def app(demo_copy):
    return create_app({"DATABASE": str(demo_copy), "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["gisapp"]["store"]
