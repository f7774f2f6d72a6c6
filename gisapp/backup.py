"""Backups of the embedded store: consistent while the app writes, checked, and restored atomically.

PostGIS stores use PostgreSQL's own tools (pg_dump / pg_restore): see docs/auth.md, Backups.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .errors import StoreError
from .registry import Registry
from .storage import Store, open_store


def check_copy(path: Path, registry: Registry) -> dict[str, int]:
    """Integrity check of a GeoPackage store file; returns row counts per table."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents")}
        version = conn.execute("SELECT value FROM gisapp_meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a gisapp GeoPackage: {exc}") from None
    if ok != "ok" or version is None:
        raise StoreError(f"{path} failed the integrity check: {ok}")
    store = open_store(str(path), registry)
    counts = {name: store.count(name) for name in store.specs if name in tables}
    store.close()
    conn.close()
    return counts


def backup(store: Store, dest: str | Path) -> dict[str, int]:
    """Copy the live store with SQLite's online backup (a consistent snapshot even while
    other processes write), then check the copy. Returns the copy's row counts."""
    if not hasattr(store, "path"):
        raise StoreError("backups of a PostGIS store use pg_dump -Fc and pg_restore (docs/auth.md)")
    dest = Path(dest)
    if dest.exists():
        raise StoreError(f"{dest} exists; choose a new file name")
    tmp = dest.with_name(dest.name + ".part")
    target = sqlite3.connect(tmp)
    try:
        store.connect().backup(target)
        target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    finally:
        target.close()
    counts = check_copy(tmp, store.registry)
    os.replace(tmp, dest)
    return counts


def restore(source: str | Path, dest: str | Path, registry: Registry) -> dict[str, int]:
    """Replace the store file at ``dest`` by a checked copy of ``source`` (stop the app first)."""
    source, dest = Path(source), Path(dest)
    counts = check_copy(source, registry)
    tmp = dest.with_name(dest.name + ".restoring")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    target = sqlite3.connect(tmp)
    try:
        src.backup(target)
    finally:
        src.close()
        target.close()
    for suffix in ("-wal", "-shm"):
        Path(str(dest) + suffix).unlink(missing_ok=True)
    os.replace(tmp, dest)
    return counts
