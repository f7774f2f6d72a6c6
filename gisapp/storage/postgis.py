"""The server store: PostgreSQL + PostGIS, for a county or a city (``postgresql://`` URLs).

Same interface and results as the GeoPackage store (tests/test_postgis_compare.py). Geometries
are ``geometry(<type>, 4326)`` columns with a GiST index; bbox filters (``&&`` on
``ST_MakeEnvelope``) and grid clusters run in the database, reads are then refined exactly as
the GeoPackage store refines its R-tree hits. A write transaction takes a transaction-level
advisory lock, so writers queue one after the other as on a GeoPackage; its audit rows and the
``data_version`` bump commit with it or not at all. Every value is bound; identifiers come from
the validated registry and are quoted. Connections come from a small pool (per process, safe
after fork). Inserts use COPY (pg_copy.py); the column types and values are in pg_format.py.
"""
from __future__ import annotations

import importlib.util
import threading
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import Conflict, StoreError, ValidationFailed
from ..registry import Registry
from . import pg_cells, pg_copy
from . import pg_format as pgf
from .base import Store, Where, Writer, check_columns, check_spatial, clusters, grid
from .pg_pool import Pool, close_on_collect, masked
from .schema import SCHEMA_VERSION, TableSpec

q = pgf.quote


def _errors():
    import psycopg
    return psycopg


@contextmanager
def translate_errors():
    """Database errors as the app's errors: constraint → Conflict, bad value → ValidationFailed."""
    psycopg = _errors()
    try:
        yield
    except psycopg.errors.IntegrityError as exc:
        msg = _message(exc)
        raise Conflict({"zh": f"数据冲突：{msg}", "en": f"conflicting data: {msg}"}) from None
    except psycopg.errors.DataError as exc:
        msg = _message(exc)
        raise ValidationFailed({"zh": f"数据无效：{msg}", "en": f"invalid value: {msg}"}) from None
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PermissionDenied(_message(exc)) from None
    except psycopg.OperationalError as exc:
        state = getattr(exc, "sqlstate", None) or ""
        if state and not state.startswith(("08", "57P")):  # not a lost connection or a server shutdown
            raise
        raise ConnectionLost(f"lost the connection to PostgreSQL: {_message(exc)}") from None


class ConnectionLost(StoreError):
    """The server went away (restart, network); a new connection may work."""


class PermissionDenied(StoreError):
    """The server refused the role a privilege (a grant or the tables' ownership is missing)."""

    def __init__(self, reason: str):
        super().__init__(f"the database role may not do this: {reason}")
        self.reason = reason


def _message(exc) -> str:
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None else None
    detail = diag.message_detail if diag is not None else None
    text = primary or str(exc).strip().splitlines()[0]
    return f"{text} ({detail})" if detail else text


class PostGISStore(Store):
    def __init__(self, url: str, registry: Registry):
        if importlib.util.find_spec("psycopg") is None:
            raise StoreError("the PostGIS store needs psycopg: pip install 'gisapp[postgis]'")
        super().__init__(masked(url), registry)  # store.url shows in logs and cache keys: no password
        self._pool = Pool(url)
        close_on_collect(self, self._pool)
        self._local = threading.local()
        self._sequences: dict[str, str] = {}

    # --- connections ---------------------------------------------------------------------------
    @contextmanager
    def connection(self):
        """This thread's transaction connection if a writer is open, else one from the pool."""
        conn = getattr(self._local, "tx", None)
        if conn is not None:
            yield conn
            return
        with self._pool.connection() as conn:
            yield conn

    def _query(self, sql: str, params=(), binary: bool = False) -> list[tuple]:
        """Rows of one statement; outside a transaction, retried once on a fresh connection
        if a pooled one turns out dead (the server restarted meanwhile)."""
        retry = getattr(self._local, "tx", None) is None
        while True:
            try:
                with self.connection() as conn, translate_errors():
                    return conn.cursor(binary=binary).execute(sql, params).fetchall()
            except ConnectionLost:
                if not retry:
                    raise
                retry = False

    def close(self) -> None:
        self._pool.close()

    def checkpoint(self) -> None:
        """Nothing to fold: the server keeps its own files consistent (GeoPackage store parity)."""

    # --- schema --------------------------------------------------------------------------------
    def existing_columns(self, conn) -> dict[str, set[str]]:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema()").fetchall()
        out: dict[str, set[str]] = {}
        for table, column in rows:
            out.setdefault(table, set()).add(column)
        return out

    def _ensure_postgis(self, conn) -> None:
        psycopg = _errors()
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone():
            return
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION postgis")
        except (psycopg.errors.FeatureNotSupported, psycopg.errors.UndefinedFile, psycopg.errors.UndefinedObject):
            raise StoreError(f"PostGIS is not installed on the server of {self.url} "
                             "(Debian: apt-get install postgresql-<version>-postgis-3)") from None
        except psycopg.errors.InsufficientPrivilege:
            raise StoreError(f"the database {self.url} has no PostGIS and this role may not add it: "
                             "ask a superuser to run CREATE EXTENSION postgis in it") from None

    def initialize(self) -> bool:
        """Create or upgrade the schema. A role with data rights alone (the tables owned by
        another role) may run the app on a current schema, but not change it."""
        try:
            return self._initialize()
        except PermissionDenied as exc:
            raise StoreError(f"the schema of {self.url} needs changes this role may not make "
                             f"({exc.reason}): run `gisapp upgrade-db` as the owner of its tables") from None

    def _initialize(self) -> bool:
        self.changes = []
        with self.connection() as conn, conn.transaction(), translate_errors():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (pgf.WRITER_LOCK,))
            self._ensure_postgis(conn)
            existing = self.existing_columns(conn)
            new = "gisapp_meta" not in existing
            for spec in self.specs.values():
                if spec.name not in existing:
                    for sql in pgf.create_table_sql(spec):
                        conn.execute(sql)
                    self.changes.append(f"created table {spec.name}")
                    continue
                for col in spec.columns:
                    if col.name not in existing[spec.name]:
                        conn.execute(pgf.add_column_sql(spec, col))
                        self.changes.append(f"added column {spec.name}.{col.name}")
                have = pgf.index_names(conn, spec.name)
                for name in pgf.stale_indexes(conn, spec):
                    conn.execute(f"DROP INDEX {q(name)}")
                    have.discard(name)
                    self.changes.append(f"rebuilt index {name}")
                for sql in pgf.index_sql(spec, have):
                    conn.execute(sql)
            if pg_cells.TABLE in self.specs and pg_cells.setup(conn):
                self.changes.append(f"built table {pg_cells.SUMMARY}")
            for key, value in (("schema_version", str(SCHEMA_VERSION)), ("data_version", "0")):
                conn.execute("INSERT INTO gisapp_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                             (key, value))
        return new

    def geometry_oid(self, conn) -> int:
        if not hasattr(self, "_geometry_oid"):
            self._geometry_oid = conn.execute("SELECT 'geometry'::regtype::oid").fetchone()[0]
        return self._geometry_oid

    def sequence(self, conn, table: str) -> str:
        if table not in self._sequences:
            self._sequences[table] = conn.execute("SELECT pg_get_serial_sequence(%s, 'fid')", (q(table),)).fetchone()[0]
        return self._sequences[table]

    # --- reads ---------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM gisapp_meta WHERE key = %s", (key,))
        return rows[0][0] if rows else None

    def _filter(self, spec: TableSpec, where: Where | None, bbox) -> tuple[str, list]:
        """WHERE clause: ``where`` and, for a bbox, the GiST-indexed bounding-box test ``&&``."""
        check_columns(spec, (where or {}).keys())
        parts, params = [], []
        if bbox is not None:
            check_spatial(spec)
            env, box = pgf.envelope(bbox)
            parts.append(f"t.geom && {env}")
            params += box
        more, more_params = pgf.where_clause(spec, where)
        return (" WHERE " + " AND ".join(parts + more)) if parts or more else "", params + more_params

    def read(self, table: str, where: Where | None = None, bbox=None, columns=None,
             order_by: str | None = None, limit: int | None = None, offset: int = 0,
             geometry: bool = True) -> pd.DataFrame:
        spec = self.spec(table)
        spatial = spec.spatial and geometry
        cols = list(columns) if columns is not None else spec.column_names
        desc = bool(order_by) and order_by.startswith("-")
        order_by = order_by[1:] if desc else order_by
        check_columns(spec, cols + ([order_by] if order_by else []))
        what = ["t.fid"] + [pgf.out_expr(pgf.column_type(spec, c), c) for c in cols]
        if spatial:
            what.append("ST_AsBinary(t.geom)")
        clause, params = self._filter(spec, where, bbox)
        sql = f"SELECT {', '.join(what)} FROM {q(table)} t{clause}"
        if order_by:  # NULLs sort as the smallest value, as in SQLite (said only where there can be
            # NULLs: an index serves ORDER BY only with its own NULLS order)
            nullable = not any(c.name == order_by and c.not_null for c in spec.columns) and order_by != "fid"
            nulls = (" NULLS LAST" if desc else " NULLS FIRST") if nullable else ""
            sql += f" ORDER BY t.{q(order_by)}{' DESC' if desc else ''}{nulls}, t.fid{' DESC' if desc else ''}"
        else:
            sql += " ORDER BY t.fid"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(int(limit))
        if offset:
            sql += " OFFSET %s"
            params.append(int(offset))
        rows = self._query(sql, params, binary=True)
        df = pd.DataFrame(rows, columns=["fid"] + cols + (["geom"] if spatial else []))
        df = df.set_index("fid")
        if not spatial:
            return df
        wkb = df.pop("geom").tolist()
        geoms = shapely.from_wkb(np.array(wkb, dtype=object)) if wkb else []
        gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index, crs=4326))
        if bbox is not None and len(gdf):  # && compares float32 boxes: refine exactly, as the GeoPackage store
            gdf = gdf[shapely.intersects(gdf.geometry.values._data, shapely.box(*bbox))]
        return gdf

    def count(self, table: str, where: Where | None = None, bbox=None, limit: int | None = None) -> int:
        """Rows matching ``where`` whose bounding box meets ``bbox`` (as the GeoPackage R-tree)."""
        clause, params = self._filter(self.spec(table), where, bbox)
        sql = f"SELECT count(*) FROM {q(table)} t{clause}"
        if limit:
            sql, params = f"SELECT count(*) FROM (SELECT 1 FROM {q(table)} t{clause} LIMIT %s) c", params + [int(limit)]
        return int(self._query(sql, params)[0][0])

    def count_by(self, table: str, column: str, where: Where | None = None) -> dict[Any, int]:
        spec = self.spec(table)
        check_columns(spec, [column])
        clause, params = self._filter(spec, where, None)
        sql = f"SELECT {pgf.out_expr(pgf.column_type(spec, column), column)}, count(*) FROM {q(table)} t{clause} GROUP BY 1"
        return {value: int(n) for value, n in self._query(sql, params)}

    def bounds(self, table: str) -> tuple[float, float, float, float] | None:
        check_spatial(self.spec(table))
        row = self._query(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                          f"(SELECT ST_Extent(geom) AS e FROM {q(table)}) s")[0]
        return None if row[0] is None else tuple(float(v) for v in row)

    def span(self, table: str, column: str, where: Where | None = None) -> tuple[Any, Any]:
        spec = self.spec(table)
        check_columns(spec, [column])
        clause, params = self._filter(spec, where, None)
        out = pgf.out_expr(pgf.column_type(spec, column), column)
        # min and max each become one probe of an index on the column (the planner's MinMaxAgg)
        return tuple(self._query(f"SELECT min({out}), max({out}) FROM {q(table)} t{clause}", params)[0])

    def cluster(self, table: str, bbox, cell: float, where: Where | None = None) -> pd.DataFrame:
        """Grid cells aggregated in the database: from the cell summary (pg_cells.py) where it can
        answer, else from the points."""
        spec = self.spec(table)
        check_columns(spec, (where or {}).keys())
        summary = pg_cells.cluster_sql(bbox, cell, where) if table == pg_cells.TABLE else None
        if summary is not None:
            return clusters(self._query(*summary))
        x, y = ("ST_X(t.geom)", "ST_Y(t.geom)") if spec.geometry_type == "Point" else ("ST_XMin(t.geom)", "ST_YMin(t.geom)")
        clause, params = self._filter(spec, where, bbox)
        size = float(grid(cell)[1])
        # each geometry decoded once; one bigint key per cell lets the planner hash instead of sort
        cells = (f"SELECT x, y, floor(x / {size!r})::int AS gx, floor(y / {size!r})::int AS gy FROM "
                 f"(SELECT {x} AS x, {y} AS y FROM {q(table)} t{clause} OFFSET 0) p")
        sql = (f"SELECT min(gx), min(gy), avg(x), avg(y), count(*) FROM ({cells}) c "
               "GROUP BY gx::bigint * 4294967296 + gy")
        return clusters(self._query(sql, params))

    # --- writes --------------------------------------------------------------------------------
    @contextmanager
    def writer(self, actor: str, remote_addr: str | None = None):
        if not actor:
            raise ValueError("every write needs an actor")
        outer = getattr(self._local, "tx", None)
        with self.connection() as conn, translate_errors(), conn.transaction():
            self._local.tx = conn
            try:
                if outer is None:  # one writer at a time, as BEGIN IMMEDIATE on a GeoPackage
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (pgf.WRITER_LOCK,))
                w = PostGISWriter(self, conn, actor, remote_addr)
                yield w
                if w.touched:
                    conn.execute("UPDATE gisapp_meta SET value = (value::bigint + 1)::text WHERE key = 'data_version'")
            finally:
                self._local.tx = outer


class PostGISWriter(Writer):
    MARK = "%s"

    @contextmanager
    def _step(self):
        """One statement group: a savepoint, so a failed one leaves the transaction usable (as SQLite)."""
        with translate_errors(), self.conn.transaction():
            yield

    def _run(self, sql: str, params=()):
        with self._step():
            return self.conn.execute(sql, params)

    def _geometry(self, geometry) -> tuple[str, Any]:
        return f"ST_GeomFromWKB(%s, {pgf.SRID})", shapely.to_wkb(geometry)

    def _value(self, spec: TableSpec, name: str, value: Any) -> Any:
        return pgf.adapt(pgf.column_type(spec, name), value)

    def insert(self, table: str, rows: pd.DataFrame, summary: str | None = None, *, keep_fid: bool = False) -> list[int]:
        spec, cols, geoms = self._checked(table, rows)
        adapted = [pgf.adapt_many(pgf.column_type(spec, c), rows[c]) for c in cols]
        data = [values for values, _ in adapted]
        binary = all(plain for _, plain in adapted)  # else a text COPY: the server parses (and refuses) values
        names, types = ["fid"] + cols, ["int8"] + [pgf.COPY_TYPES[pgf.column_type(spec, c)] for c in cols]
        if geoms is not None:
            data.append(pgf.ewkb(geoms, hex=not binary))
            names.append("geom")
            types.append(self.store.geometry_oid(self.conn))
        with self._step():
            fids = self._copy(table, rows, keep_fid, geoms, (names, types, data, binary))
        return self._inserted(table, rows, fids, summary, keep_fid)

    def _copy(self, table, rows, keep_fid, geoms, columns) -> list[int]:
        """COPY the rows in (``columns``: names, COPY types, values, binary?). A bulk load rebuilds
        the table's indexes after the COPY and goes to disk in spatial order."""
        names, types, data, binary = columns
        rebuild = pg_copy.drop_for_bulk(self.conn, table, len(rows))
        fids = [int(i) for i in rows.index] if keep_fid else self._next_fids(table, len(rows), bool(rebuild))
        cells = self._bulk_cells(table, dict(zip(names[1:], data)), geoms, binary)
        records = zip(fids, *data)
        if rebuild and geoms is not None:
            listed = list(records)
            records = (listed[i] for i in pgf.spatial_order(geoms).tolist())
        pg_copy.copy_rows(self.conn, table, names, types, records, binary)
        for sql in rebuild:
            self.conn.execute(sql)
        if cells is not None:
            pg_cells.add(self.conn, cells)
        if rebuild:
            self.conn.execute(f"ANALYZE {q(table)}")
        if keep_fid and fids:
            seq = self.store.sequence(self.conn, table)
            self.conn.execute(f"SELECT setval(%s, (SELECT max(fid) FROM {q(table)}))", (seq,))
        return fids

    def _bulk_cells(self, table, columns, geoms, binary) -> tuple | None:
        """For a large insert into the reports: the points whose cell summary the app adds
        itself after the COPY (its trigger paused, which needs the table's owner), several times
        faster than the trigger."""
        if (table != pg_cells.TABLE or geoms is None or len(geoms) < pg_copy.BULK_ROWS or not binary
                or not pg_copy.owns(self.conn, table)):
            return None
        cells = pg_cells.bulk_points(columns, geoms)
        if cells is not None:
            pg_cells.pause(self.conn)
        return cells

    def _next_fids(self, table: str, n: int, locked: bool) -> list[int]:
        """n new fids; in one block when the table is locked (a bulk insert: no other session
        can insert meanwhile), else one nextval each."""
        if n == 0:
            return []
        seq = self.store.sequence(self.conn, table)
        if locked:
            last = self.conn.execute("SELECT setval(%s, nextval(%s) + %s - 1)", (seq, seq, n)).fetchone()[0]
            return list(range(last - n + 1, last + 1))
        rows = self.conn.execute("SELECT nextval(%s) FROM generate_series(1, %s)", (seq, n)).fetchall()
        return sorted(r[0] for r in rows)
