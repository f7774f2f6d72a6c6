"""Copy a whole store into a new, empty one: GeoPackage → PostGIS, PostGIS → GeoPackage, …

Every table, record (with its fid) and geometry goes across in one write transaction on the
destination, read in chunks by fid so memory stays flat for millions of rows. The audit trail
is copied as it is, followed by one audit row for the copy itself; ``gisapp_meta`` keeps the
source's entries and its ``data_version`` moves one past the source's.
"""
from __future__ import annotations

from typing import Callable

from ..errors import StoreError
from .base import Store

CHUNK = 50_000
META = "gisapp_meta"


def copy_store(src: Store, dst: Store, actor: str, chunk: int = CHUNK,
               progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy ``src`` into ``dst`` (created if needed, must hold no data). Returns rows per table."""
    if set(src.specs) != set(dst.specs):
        raise StoreError("source and destination use different layer definitions")
    dst.initialize()
    held = [t for t in dst.specs if t != META and dst.count(t)]
    if held:
        raise StoreError(f"the destination already holds data ({', '.join(held[:4])}); "
                         "copy into a new, empty store")
    counts: dict[str, int] = {}
    with dst.writer(actor) as w:
        tables = ["audit"] + [t for t in src.specs if t not in ("audit", META)]  # audit first: its fids stay
        for table in tables:
            counts[table] = 0
            last = 0
            while True:
                rows = src.read(table, where={"fid": {">": last}}, limit=chunk)
                if rows.empty:
                    break
                w.insert(table, rows, keep_fid=True)
                counts[table] += len(rows)
                last = int(rows.index[-1])
                if progress:
                    progress(table, counts[table])
        for key, value in src.read(META, columns=["key", "value"]).itertuples(index=False):
            if dst.meta(key) != value:
                w.set_meta(key, value)
        w.audit("copy_store", None, None, f"copied from {src.url}",
                after={"source": src.url, "rows": counts})
    return counts
