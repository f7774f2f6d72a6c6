"""Load the generated demo data into a store, in one transaction."""
from __future__ import annotations

from ..storage import Store
from ..storage.base import utcnow

DEMO_ACTOR = "demo-loader"


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
    return True


def _has_features(store: Store) -> bool:
    return any(store.count(layer.id) for layer in store.registry)
