"""Wires the layer registry, the figure definitions and the store into the app."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from .figures import Figure, load_figures
from .registry import Registry, load_registry
from .storage import Store, open_store


def init_app(app: Flask) -> None:
    registry = load_registry(app.config["LAYERS_DIR"])
    figures = load_figures(Path(app.config["LAYERS_DIR"]) / "figures.toml", registry)
    store = open_store(str(app.config["DATABASE"]), registry)
    created = store.initialize()
    app.extensions["gisapp"] = {"registry": registry, "figures": figures, "store": store}
    if created and app.config["LOAD_DEMO"]:
        from .demo.load import load_demo
        load_demo(store, seed=int(app.config["DEMO_SEED"]))


def get_store() -> Store:
    return current_app.extensions["gisapp"]["store"]


def get_registry() -> Registry:
    return current_app.extensions["gisapp"]["registry"]


def get_figures() -> list[Figure]:
    return current_app.extensions["gisapp"]["figures"]
