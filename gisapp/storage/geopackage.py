"""The embedded store: one GeoPackage file, written with plain sqlite3.

WAL journal and a busy timeout let several worker processes write; each
write transaction starts with BEGIN IMMEDIATE so writers queue instead of
failing half-way. Bbox queries join the table's R-tree index.
"""
from __future__ import annotations

import os
import sqlite3
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from ..errors import Conflict, StoreError
from ..registry import Registry
from . import gpkg_format as fmt
from .base import (Store, Where, Writer, quote, check_columns, check_spatial, clusters, grid, to_db, where_sql)
from .schema import SCHEMA_VERSION, TableSpec

q = quote
BUSY_TIMEOUT_MS = 30_000


def _path_from_url(url: str) -> Path:
    for prefix in ("gpkg://", "geopackage://", "file://"):
        if url.startswith(prefix):
            return Path(url[len(prefix):])
    return Path(url)


def check_writable(path: Path) -> None:
    """Refuse clearly, before SQLite does obscurely, a store we cannot write."""
    folder = path.parent
    if not folder.is_dir():
        raise StoreError(f"database folder does not exist: {folder} (create it or set GISAPP_DATABASE)")
    if path.exists():
        if not path.is_file():
            raise StoreError(f"database path is not a file: {path}")
        mode = path.stat().st_mode
        if not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise StoreError(f"database file is read-only: {path} (the app needs write access)")
    if not os.access(folder, os.W_OK):
        raise StoreError(f"database folder is not writable: {folder} (SQLite needs it for its journal)")


class GeoPackageStore(Store):
    def __init__(self, url: str, registry: Registry):
        super().__init__(url, registry)
        self.path = _path_from_url(url).expanduser().resolve()
        check_writable(self.path)
        self._local = threading.local()

    # --- connections -------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        """This thread's connection (a new one after fork)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            fmt.register_functions(conn)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def checkpoint(self) -> None:
        """Fold the WAL journal into the main file, so the .gpkg alone holds everything."""
        self.connect().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def _transaction(self):
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from None
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # --- schema ------------------------------------------------------------
    def existing_tables(self) -> set[str]:
        rows = self.connect().execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {r[0] for r in rows}

    def initialize(self) -> bool:
        try:
            self.connect().execute("PRAGMA journal_mode = WAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"not a usable GeoPackage: {self.path} ({exc})") from None
        self.changes = []
        with self._transaction() as conn:
            existing = self.existing_tables()
            new = "gpkg_contents" not in existing
            fmt.create_base(conn)
            for spec in self.specs.values():
                if spec.name not in existing:
                    fmt.create_table(conn, spec)
                    self.changes.append(f"created table {spec.name}")
                else:
                    self.changes += [f"added column {spec.name}.{c}" for c in fmt.add_missing_columns(conn, spec)]
                    self.changes += [f"rebuilt index {name}" for name in fmt.create_indexes(conn, spec)]
            for key, value in (("schema_version", str(SCHEMA_VERSION)), ("data_version", "0")):
                conn.execute("INSERT OR IGNORE INTO gisapp_meta (key, value) VALUES (?, ?)", (key, value))
        return new

    # --- reads -------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.connect().execute("SELECT value FROM gisapp_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _select(self, spec: TableSpec, where, bbox, what: str, rtree_only: bool = False) -> tuple[str, list]:
        """SELECT over the table (alias t), joined to its R-tree (alias r) for a bbox.

        ``rtree_only``: ``what`` uses only r.*; without filters the table is not read at all.
        """
        check_columns(spec, (where or {}).keys())
        clause, params = where_sql(where, q)
        if bbox is not None:
            check_spatial(spec)
        if bbox is None:
            return f"SELECT {what} FROM {q(spec.name)} t" + clause, params
        minx, miny, maxx, maxy = (float(v) for v in bbox)
        box = "r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?"
        if rtree_only and not where:
            return f"SELECT {what} FROM {q(fmt.rtree_name(spec.name))} r WHERE {box}", [maxx, minx, maxy, miny]
        sql = f"SELECT {what} FROM {q(spec.name)} t JOIN {q(fmt.rtree_name(spec.name))} r ON t.fid = r.id AND {box}"
        return sql + clause, [maxx, minx, maxy, miny] + params

    def read(self, table: str, where: Where | None = None, bbox=None, columns=None,
             order_by: str | None = None, limit: int | None = None, offset: int = 0,
             geometry: bool = True) -> pd.DataFrame:
        spec = self.spec(table)
        spatial = spec.spatial and geometry
        cols = list(columns) if columns is not None else spec.column_names
        desc = bool(order_by) and order_by.startswith("-")
        order_by = order_by[1:] if desc else order_by
        check_columns(spec, cols + ([order_by] if order_by else []))
        what = ", ".join(["t.fid"] + [f"t.{q(c)}" for c in cols] + (["t.geom"] if spatial else []))
        sql, params = self._select(spec, where, bbox, what)
        direction = " DESC" if desc else ""
        sql += f" ORDER BY t.{q(order_by)}{direction}, t.fid{direction}" if order_by else " ORDER BY t.fid"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params += [-1 if limit is None else int(limit), int(offset)]
        rows = self.connect().execute(sql, params).fetchall()
        df = pd.DataFrame(rows, columns=["fid"] + cols + (["geom"] if spatial else []))
        df = df.set_index("fid")
        if not spatial:
            return df
        blobs = df.pop("geom").tolist()
        geoms = fmt.decode_many(blobs) if blobs else []
        gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index, crs=4326))
        if bbox is not None and len(gdf):  # the R-tree holds float32 boxes: refine exactly
            gdf = gdf[shapely.intersects(gdf.geometry.values._data, shapely.box(*bbox))]
        return gdf

    def bounds(self, table: str) -> tuple[float, float, float, float] | None:
        check_spatial(self.spec(table))
        row = self.connect().execute(f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM {q(fmt.rtree_name(table))}").fetchone()
        return None if row[0] is None else tuple(float(v) for v in row)

    def span(self, table: str, column: str, where: Where | None = None) -> tuple[Any, Any]:
        spec = self.spec(table)
        check_columns(spec, [column])
        low, params = self._select(spec, where, None, f"min(t.{q(column)})")
        high, _ = self._select(spec, where, None, f"max(t.{q(column)})")
        return tuple(self.connect().execute(f"SELECT ({low}), ({high})", params + params).fetchone())  # one min/max each: an index serves it

    def cluster(self, table: str, bbox, cell: float, where: Where | None = None) -> pd.DataFrame:
        """Grid clusters from the R-tree alone (points: minx = x), joined to the table only to filter."""
        spec = self.spec(table)
        size = float(grid(cell)[1])
        # floor() as a cast: shifted by 2^30 cells first, so that the truncated value is positive
        cells = [f"CAST(r.{c} / {size!r} + 1073741824 AS INTEGER) - 1073741824 AS g{a}"
                 for c, a in (("minx", "x"), ("miny", "y"))]
        what = ", ".join(cells) + ", avg(r.minx), avg(r.miny), count(*)"
        sql, params = self._select(spec, where, bbox, what, rtree_only=True)
        return clusters(self.connect().execute(sql + " GROUP BY gx, gy", params).fetchall())

    def count_by(self, table: str, column: str, where: Where | None = None) -> dict[Any, int]:
        spec = self.spec(table)
        check_columns(spec, [column])
        sql, params = self._select(spec, where, None, f"t.{q(column)}, count(*)")
        return dict(self.connect().execute(sql + " GROUP BY 1", params).fetchall())

    def count(self, table: str, where: Where | None = None, bbox=None, limit: int | None = None) -> int:
        sql, params = self._select(self.spec(table), where, bbox, "1" if limit else "count(*)", rtree_only=True)
        if limit:
            sql, params = f"SELECT count(*) FROM ({sql} LIMIT ?)", params + [int(limit)]
        return self.connect().execute(sql, params).fetchone()[0]

    # --- writes ------------------------------------------------------------
    @contextmanager
    def writer(self, actor: str, remote_addr: str | None = None):
        if not actor:
            raise ValueError("every write needs an actor")
        with self._transaction() as conn:
            w = GeoPackageWriter(self, conn, actor, remote_addr)
            yield w
            for table in w.touched:
                fmt.refresh_contents(conn, table, self.specs[table].spatial)
            if w.touched:
                conn.execute("UPDATE gisapp_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'data_version'")


class GeoPackageWriter(Writer):
    def _run(self, sql: str, params=()):
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise Conflict({"zh": f"数据冲突：{exc}", "en": f"conflicting data: {exc}"}) from None

    def _geometry(self, geometry) -> tuple[str, Any]:
        return "?", fmt.encode(geometry)

    def insert(self, table: str, rows: pd.DataFrame, summary: str | None = None, *, keep_fid: bool = False) -> list[int]:
        spec, cols, geoms = self._checked(table, rows)
        names = cols + (["geom"] if spec.spatial else [])
        records = [[to_db(v) for v in row] for row in rows[cols].itertuples(index=False, name=None)]
        if geoms is not None:
            records = [r + [b] for r, b in zip(records, fmt.encode_many(geoms))]
        if keep_fid:
            names, records = ["fid"] + names, [[int(i)] + r for i, r in zip(rows.index, records)]
        sql = f"INSERT INTO {q(table)} ({', '.join(map(q, names))}) VALUES ({', '.join('?' * len(names))})"
        fids = [self._run(sql, r).lastrowid for r in records]
        return self._inserted(table, rows, fids, summary, keep_fid)
