"""The storage interface. Code above this layer talks only to :class:`Store`
and :class:`Writer`; the GeoPackage and (later) PostGIS backends implement it.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import ValidationFailed
from ..registry import Registry
from .schema import TableSpec, all_specs

# column -> value (=), None (IS NULL), list/tuple of values (IN), or {op: value}
# with op one of < <= > >= !=
Where = dict[str, Any]
OPERATORS = ("<", "<=", ">", ">=", "!=", "contains")


def grid(cell: float) -> tuple[int, float]:
    """The cluster grid for a wanted cell size: its level L and cell size 360/2^L degrees, the
    finest such grid whose cells are not smaller than ``cell``. The grid is global (cells start at
    0°), so every backend, and a summary kept ahead of time, puts a point in the same cell."""
    level = 30 if cell <= 0 else max(0, min(30, math.floor(math.log2(360.0 / cell))))
    return level, 360.0 / 2 ** level


def cell_key(gx, gy):
    """One integer per grid cell (exact in a JavaScript number for levels up to 20)."""
    return np.asarray(gx, dtype=np.int64) * 4294967296 + np.asarray(gy, dtype=np.int64)


def clusters(rows, columns=("gx", "gy", "x", "y", "n")) -> pd.DataFrame:
    """The cluster() result from rows of cell x, cell y, mean x, mean y, count."""
    df = pd.DataFrame(rows, columns=list(columns)).sort_values(["gx", "gy"], ignore_index=True)
    df["n"] = df["n"].astype(np.int64)
    df["fid"] = cell_key(df["gx"], df["gy"])
    return df[["x", "y", "n", "fid"]]


def where_sql(where: Where | None, quote, ph: str = "?") -> tuple[str, list]:
    """A parameterised WHERE clause (column names must already be checked)."""
    parts, params = [], []
    for col, value in (where or {}).items():
        q = quote(col)
        if value is None:
            parts.append(f"{q} IS NULL")
        elif isinstance(value, (list, tuple, set)):
            values = [to_db(v) for v in value]
            if not values:
                parts.append("0 = 1")
                continue
            parts.append(f"{q} IN ({', '.join([ph] * len(values))})")
            params += values
        elif isinstance(value, dict):
            for op, v in value.items():
                if op not in OPERATORS:
                    raise ValueError(f"unsupported operator {op!r}")
                if op == "contains":  # substring match, LIKE wildcards in the value taken literally
                    parts.append(f"{q} LIKE {ph} ESCAPE '\\'")
                    params.append("%" + str(v).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
                    continue
                parts.append(f"{q} {op} {ph}")
                params.append(to_db(v))
        else:
            parts.append(f"{q} = {ph}")
            params.append(to_db(value))
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def utcnow() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def to_db(value: Any) -> Any:
    """Plain Python value for a DB parameter: dates as ISO text, NaN/NaT as NULL."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        if not -2**63 <= int(value) < 2**63:
            raise ValidationFailed({"zh": "数值超出范围", "en": "number out of range"})
        return int(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def to_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def check_columns(spec: TableSpec, names) -> None:
    known = set(spec.column_names) | {"fid"}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValidationFailed(
            {"zh": f"数据表 {spec.name} 没有字段：{', '.join(unknown)}",
             "en": f"table {spec.name} has no column: {', '.join(unknown)}"})


def check_spatial(spec: TableSpec) -> None:
    if not spec.spatial:
        raise ValidationFailed({"zh": f"{spec.name} 不是空间数据表", "en": f"{spec.name} is not spatial"})


def check_geometries(spec: TableSpec, geoms) -> np.ndarray:
    """Geometries fit for the table: right type (single promoted to multi), valid."""
    geoms = np.asarray(geoms, dtype=object)
    target = spec.geometry_type
    if target.startswith("Multi"):
        single = shapely.get_type_id(geoms) == {"MultiPoint": 0, "MultiLineString": 1, "MultiPolygon": 3}[target]
        if single.any():
            promote = {"MultiPoint": shapely.multipoints, "MultiLineString": shapely.multilinestrings,
                       "MultiPolygon": shapely.multipolygons}[target]
            geoms = geoms.copy()
            geoms[single] = [promote([g]) for g in geoms[single]]
    types = shapely.get_type_id(geoms)
    wanted = shapely.GeometryType[target.upper()].value
    for i, (g, t) in enumerate(zip(geoms, types)):
        if g is None:
            raise ValidationFailed({"zh": f"第 {i + 1} 个要素没有几何", "en": f"feature {i + 1} has no geometry"})
        if t != wanted:
            raise ValidationFailed(
                {"zh": f"第 {i + 1} 个要素的几何类型为 {g.geom_type}，图层 {spec.name} 需要 {target}",
                 "en": f"feature {i + 1} is a {g.geom_type}; layer {spec.name} takes {target}"})
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        i = int(np.flatnonzero(invalid)[0])
        reason = shapely.is_valid_reason(geoms[i])
        raise ValidationFailed({"zh": f"第 {i + 1} 个要素的几何无效：{reason}",
                                "en": f"feature {i + 1} has an invalid geometry: {reason}"})
    bad = ~np.isfinite(shapely.bounds(geoms)).all(axis=1) & ~shapely.is_empty(geoms)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationFailed({"zh": f"第 {i + 1} 个要素的坐标无效", "en": f"feature {i + 1} has non-finite coordinates"})
    return geoms


def quote(identifier: str) -> str:
    """An SQL identifier, quoted (the same rule in SQLite and PostgreSQL)."""
    return '"' + identifier.replace('"', '""') + '"'


class Writer(ABC):
    """One write transaction, attributed to an actor. Every change is audited. The statements
    common to both stores are written here with ``MARK`` as the driver's placeholder."""

    MARK = "?"

    def __init__(self, store: "Store", conn, actor: str, remote_addr: str | None):
        self.store, self.conn, self.actor, self.remote_addr = store, conn, actor, remote_addr
        self.touched: set[str] = set()

    @abstractmethod
    def insert(self, table: str, rows: pd.DataFrame | gpd.GeoDataFrame, summary: str | None = None,
               *, keep_fid: bool = False) -> list[int]:
        """Insert rows (a GeoDataFrame in EPSG:4326 for spatial tables); returns new fids.
        ``keep_fid``: the rows' index is their fid, for copying a whole store (audit rows included);
        such inserts write no audit row of their own: the copy audits itself once."""

    @abstractmethod
    def _run(self, sql: str, params=()):
        """Run one statement; a failed one raises a gisapp error and leaves the transaction usable."""

    @abstractmethod
    def _geometry(self, geometry) -> tuple[str, Any]:
        """The SQL expression and parameter that store one (checked) geometry."""

    def _checked(self, table: str, rows: pd.DataFrame) -> tuple[TableSpec, list[str], np.ndarray | None]:
        """For an insert: the table's spec, the columns of ``rows`` it has (any other is refused)
        and, for a spatial table, the checked geometries."""
        spec = self.store.spec(table)
        geometry_name = getattr(rows, "_geometry_column_name", None)
        check_columns(spec, [c for c in rows.columns if c not in spec.column_names and c != geometry_name])
        cols = [c for c in rows.columns if c in spec.column_names]
        if not spec.spatial:
            return spec, cols, None
        if not isinstance(rows, gpd.GeoDataFrame):
            raise ValidationFailed({"zh": "缺少几何数据", "en": "geometry missing"})
        if rows.crs is not None and rows.crs.to_epsg() != 4326:
            raise ValidationFailed({"zh": "坐标系必须为 WGS84（EPSG:4326）", "en": "CRS must be WGS84 (EPSG:4326)"})
        return spec, cols, check_geometries(spec, rows.geometry.values)

    def _value(self, spec: TableSpec, name: str, value: Any) -> Any:
        return to_db(value)

    def _inserted(self, table: str, rows: pd.DataFrame, fids: list[int], summary: str | None, keep_fid: bool) -> list[int]:
        self.touched.add(table)
        codes = rows["code"].astype(str).tolist() if "code" in rows.columns else fids
        if not keep_fid:
            self.audit("insert", table, None, summary or f"{len(fids)} rows", after={"count": len(fids), "ids": codes})
        return fids

    def _row(self, table: str, fid: int) -> dict[str, Any] | None:
        df = self.store.read(table, where={"fid": int(fid)})
        if df.empty:
            return None
        row = df.iloc[0].to_dict()
        if "geometry" in row:
            row["geometry"] = row["geometry"].wkt if row["geometry"] is not None else None
        return {k: to_db(v) for k, v in row.items()}

    def update(self, table: str, fid: int, values: dict[str, Any], geometry=None) -> None:
        from ..errors import NotFound
        spec, m = self.store.spec(table), self.MARK
        check_columns(spec, values.keys())
        before = self._row(table, fid)
        if before is None:
            raise NotFound({"zh": f"{table} 中没有编号为 {fid} 的记录", "en": f"{table} has no row {fid}"})
        sets, params = [f"{quote(k)} = {m}" for k in values], [self._value(spec, k, v) for k, v in values.items()]
        if geometry is not None:
            expr, value = self._geometry(check_geometries(spec, [geometry])[0])
            sets.append(f"geom = {expr}")
            params.append(value)
        if sets:
            self._run(f"UPDATE {quote(table)} SET {', '.join(sets)} WHERE fid = {m}", params + [int(fid)])
        self.touched.add(table)
        self.audit("update", table, fid, None, before=before, after=self._row(table, fid))

    def delete(self, table: str, fid: int) -> None:
        before = self._row(table, fid)
        if before is None:
            return
        self._run(f"DELETE FROM {quote(table)} WHERE fid = {self.MARK}", (int(fid),))
        self.touched.add(table)
        self.audit("delete", table, fid, None, before=before)

    def set_meta(self, key: str, value: str) -> None:
        m = self.MARK
        self._run(f"INSERT INTO gisapp_meta (key, value) VALUES ({m}, {m}) "
                  "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, str(value)))
        self.audit("set_meta", "gisapp_meta", key, None, after={key: value})

    def audit(self, action: str, table: str | None, target_id: Any = None, summary: str | None = None,
              before: Any = None, after: Any = None) -> None:
        self._run("INSERT INTO audit (at, actor, remote_addr, action, target_table, target_id, summary, before, after) "
                  f"VALUES ({', '.join([self.MARK] * 9)})",
                  (utcnow(), self.actor, self.remote_addr, action, table,
                   None if target_id is None else str(target_id), summary, to_json(before), to_json(after)))


class Store(ABC):
    """A spatial store holding every layer and table of one gisapp instance."""

    def __init__(self, url: str, registry: Registry):
        self.url = url
        self.registry = registry
        self.specs = all_specs(registry)
        self.changes: list[str] = []  # what the last initialize() created or added, for upgrade-db

    def close(self) -> None:
        """Release this process's connections (the store stays usable: it reconnects)."""

    def checkpoint(self) -> None:
        """Make the store's files self-contained where the backend has such files."""

    def spec(self, table: str) -> TableSpec:
        try:
            return self.specs[table]
        except KeyError:
            from ..errors import NotFound
            raise NotFound({"zh": f"没有图层或数据表：{table}", "en": f"no such layer or table: {table}"}) from None

    @abstractmethod
    def initialize(self) -> bool:
        """Create whatever tables are missing. Returns True if the store was new."""

    @abstractmethod
    def writer(self, actor: str, remote_addr: str | None = None) -> AbstractContextManager[Writer]:
        """A transaction: everything written inside commits together or not at all."""

    @abstractmethod
    def read(self, table: str, where: Where | None = None, bbox: tuple[float, float, float, float] | None = None,
             columns: list[str] | None = None, order_by: str | None = None,
             limit: int | None = None, offset: int = 0, geometry: bool = True) -> pd.DataFrame:
        """Rows of a table indexed by fid: a GeoDataFrame for spatial tables unless
        ``geometry=False``, which skips reading and decoding the geometries.
        ``order_by`` is a column name, with a leading "-" for descending order."""

    @abstractmethod
    def count(self, table: str, where: Where | None = None,
              bbox: tuple[float, float, float, float] | None = None, limit: int | None = None) -> int:
        """Rows matching; with ``limit``, counting stops there (min(count, limit), cheap on large tables)."""

    @abstractmethod
    def count_by(self, table: str, column: str, where: Where | None = None) -> dict[Any, int]:
        """Rows matching ``where``, counted per value of ``column`` (None for NULL)."""

    @abstractmethod
    def bounds(self, table: str) -> tuple[float, float, float, float] | None:
        """A box holding every geometry of a spatial table, read from its spatial index (float32
        boxes: an edge may lie a few float32 steps outside the data); None when it has none."""

    @abstractmethod
    def span(self, table: str, column: str, where: Where | None = None) -> tuple[Any, Any]:
        """The smallest and largest non-NULL value of ``column`` among the rows matching
        ``where`` (None, None when there is none); an index on the column answers at once."""

    @abstractmethod
    def cluster(self, table: str, bbox: tuple[float, float, float, float], cell: float,
                where: Where | None = None) -> pd.DataFrame:
        """Points of a spatial table in a bbox, grouped on the global grid of :func:`grid`:
        columns x, y (mean position), n (count), fid (the cell's key, :func:`cell_key`)."""

    @abstractmethod
    def meta(self, key: str) -> str | None: ...

    def progress(self, layer: str | None = None, until: str | dt.date | None = None) -> pd.DataFrame:
        """Progress records, optionally of one layer and up to a date (inclusive)."""
        where: Where = {"layer": layer} if layer else {}
        if until is not None:
            where["record_date"] = {"<=": until}
        return self.read("progress", where=where, order_by="record_date")

    def data_version(self) -> int:
        return int(self.meta("data_version") or 0)
