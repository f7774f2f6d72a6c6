"""Load the generated demo data into a store, in one transaction."""
from __future__ import annotations

from ..auth import create_user
from ..storage import Store
from ..storage.base import utcnow

DEMO_ACTOR = "demo-loader"
DEMO_PASSWORD = "gisapp-demo"  # demo accounts only: the README says so; never in production
DEMO_USERS = [("admin", "admin", "管理员"), ("planner", "viewer", "规划科"), ("wangge", "field", "网格员小李"),
              ("handler", "handler", "后街社区处置员"), ("leader", "official", "街道领导")]


def load_demo(store: Store, seed: int = 2023, actor: str = DEMO_ACTOR) -> bool:
    """Fill an empty store with the demo data. Returns False if it held data already."""
    from .generate import build_demo

    if store.meta("demo_seed") is not None or _has_features(store):
        return False
    data = build_demo(seed)
    now = utcnow()
    with store.writer(actor) as w:
        if store.meta("demo_seed") is not None:  # another process loaded it meanwhile
            return False
        for layer in store.registry:
            w.insert(layer.id, data.layers[layer.id], summary="demo data")
        w.insert("progress", data.progress.assign(created_at=now), summary="demo progress records")
        for table, rows in data.tables.items():
            if "created_at" in store.spec(table).column_names and "created_at" not in rows:
                rows = rows.assign(created_at=now)
            w.insert(table, rows, summary="demo data")
        w.set_meta("demo_seed", str(seed))
    for username, role, name in DEMO_USERS:
        create_user(store, username, DEMO_PASSWORD, role, actor, display_name=name)
    return True


def _has_features(store: Store) -> bool:
    return any(store.count(layer.id) for layer in store.registry)
