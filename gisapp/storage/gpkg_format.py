"""GeoPackage on plain sqlite3: geometry blobs, the ST_* functions GDAL's
R-tree triggers call, and the DDL for registered tables.

Written against OGC GeoPackage 1.2 (gpkg_contents, gpkg_geometry_columns,
gpkg_spatial_ref_sys, gpkg_extensions and the gpkg_rtree_index extension).
"""
from __future__ import annotations

import sqlite3
import struct

import numpy as np
import shapely

from .base import quote
from .schema import TableSpec

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10200
_ENVELOPE_SIZE = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

BASE_DDL = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
"""

SRS_ROWS = [
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
    ("WGS 84 geodetic", 4326, "EPSG", 4326, WGS84_WKT, "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
]


# --- geometry blobs ---------------------------------------------------------

def encode(geom, srs_id: int = 4326) -> bytes | None:
    if geom is None:
        return None
    if geom.is_empty:
        return b"GP\x00\x11" + struct.pack("<i", srs_id) + shapely.to_wkb(geom, byte_order=1)
    minx, miny, maxx, maxy = geom.bounds
    header = b"GP\x00\x03" + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy)
    return header + shapely.to_wkb(geom, byte_order=1)


def encode_many(geoms, srs_id: int = 4326) -> list[bytes | None]:
    geoms = np.asarray(geoms, dtype=object)
    wkbs = shapely.to_wkb(geoms, byte_order=1)
    bounds = shapely.bounds(geoms)
    empty = shapely.is_empty(geoms)
    out: list[bytes | None] = []
    for wkb, (minx, miny, maxx, maxy), is_empty in zip(wkbs, bounds, empty):
        if wkb is None:
            out.append(None)
        elif is_empty:
            out.append(b"GP\x00\x11" + struct.pack("<i", srs_id) + wkb)
        else:
            out.append(b"GP\x00\x03" + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy) + wkb)
    return out


def _wkb_offset(blob: bytes) -> int:
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob")
    return 8 + _ENVELOPE_SIZE[(blob[3] >> 1) & 0x07]


def decode(blob: bytes | None):
    if blob is None:
        return None
    return shapely.from_wkb(bytes(blob[_wkb_offset(blob):]))


def decode_many(blobs) -> np.ndarray:
    wkbs = [None if b is None else bytes(b[_wkb_offset(b):]) for b in blobs]
    return shapely.from_wkb(np.array(wkbs, dtype=object))


def _envelope(blob: bytes) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) from the header, else computed from the WKB."""
    flags = blob[3]
    if flags & 0x10:
        return None
    if (flags >> 1) & 0x07:
        fmt = "<4d" if flags & 0x01 else ">4d"
        return struct.unpack(fmt, blob[8:40])
    minx, miny, maxx, maxy = decode(blob).bounds
    return minx, maxx, miny, maxy


def _st(index: int):
    def fn(blob):
        if blob is None:
            return None
        env = _envelope(blob)
        return None if env is None else env[index]
    return fn


def register_functions(conn: sqlite3.Connection) -> None:
    """The functions GeoPackage R-tree triggers (ours and GDAL's) call."""
    conn.create_function("ST_IsEmpty", 1, lambda b: None if b is None else int(bool(b[3] & 0x10)),
                         deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        conn.create_function(name, 1, _st(i), deterministic=True)


# --- DDL ----------------------------------------------------------------------

def _column_sql(col) -> str:
    sql = f"{quote(col.name)} {col.sql_type}"
    if col.not_null:
        sql += " NOT NULL"
    if col.unique:
        sql += " UNIQUE"
    if col.check:
        sql += f" CHECK ({quote(col.name)} {col.check})"
    return sql


def create_base(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {USER_VERSION}")
    for statement in BASE_DDL.split(";"):  # not executescript: it would commit
        if statement.strip():
            conn.execute(statement)
    conn.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)", SRS_ROWS)


def rtree_name(table: str) -> str:
    return f"rtree_{table}_geom"


def _rtree_sql(table: str) -> list[str]:
    t, r = quote(table), quote(rtree_name(table))
    vals = "NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom)"
    trig = f"CREATE TRIGGER {quote(rtree_name(table) + '_%s')} AFTER %s ON {t} WHEN %s BEGIN %s END"
    ins = f"INSERT OR REPLACE INTO {r} VALUES ({vals});"
    delete_old = f"DELETE FROM {r} WHERE id = OLD.fid;"
    present = "(NEW.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))"
    absent = "(NEW.geom IS NULL OR ST_IsEmpty(NEW.geom))"
    return [
        f"CREATE VIRTUAL TABLE {r} USING rtree(id, minx, maxx, miny, maxy)",
        trig % ("insert", "INSERT", present, ins),
        trig % ("update1", "UPDATE OF geom", f"OLD.fid = NEW.fid AND {present}", ins),
        trig % ("update2", "UPDATE OF geom", f"OLD.fid = NEW.fid AND {absent}", delete_old),
        trig % ("update3", "UPDATE", f"OLD.fid != NEW.fid AND {present}", delete_old + " " + ins),
        trig % ("update4", "UPDATE", f"OLD.fid != NEW.fid AND {absent}",
                f"DELETE FROM {r} WHERE id IN (OLD.fid, NEW.fid);"),
        trig % ("delete", "DELETE", "OLD.geom NOT NULL", delete_old),
    ]


def create_indexes(conn: sqlite3.Connection, spec: TableSpec) -> list[str]:
    """The spec's indexes: those a store made by an older version lacks are added, those it has
    on other columns are rebuilt. Returns the names rebuilt."""
    rebuilt = []
    for i, idx in enumerate(spec.indexes):
        name = quote(f"idx_{spec.name}_{i}")
        have = [row[2] for row in conn.execute(f"PRAGMA index_info({name})")]
        if have and have != list(idx):
            conn.execute(f"DROP INDEX {name}")
            rebuilt.append(f"idx_{spec.name}_{i}")
        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {quote(spec.name)} ({', '.join(map(quote, idx))})")
    return rebuilt


def create_table(conn: sqlite3.Connection, spec: TableSpec, srs_id: int = 4326) -> None:
    cols = ["fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"]
    if spec.spatial:
        cols.append(f"geom {spec.geometry_type.upper()}")
    cols += [_column_sql(c) for c in spec.columns]
    conn.execute(f"CREATE TABLE {quote(spec.name)} ({', '.join(cols)})")
    create_indexes(conn, spec)
    data_type = "features" if spec.spatial else "attributes"
    conn.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES (?,?,?,?,?)",
        (spec.name, data_type, spec.name, spec.description or spec.title, srs_id if spec.spatial else None),
    )
    if spec.spatial:
        conn.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
                     (spec.name, spec.geometry_type.upper(), srs_id))
        for sql in _rtree_sql(spec.name):
            conn.execute(sql)
        conn.execute(
            "INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', "
            "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')", (spec.name,))


def add_missing_columns(conn: sqlite3.Connection, spec: TableSpec) -> list[str]:
    """Schema upgrade for a layer definition that gained fields (added as nullable)."""
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({quote(spec.name)})")}
    added = [c for c in spec.columns if c.name not in have]
    for col in added:
        conn.execute(f"ALTER TABLE {quote(spec.name)} ADD COLUMN {quote(col.name)} {col.sql_type}")
    return [c.name for c in added]


def refresh_contents(conn: sqlite3.Connection, table: str, spatial: bool) -> None:
    """Keep gpkg_contents' last_change and extent current after a write."""
    if spatial:
        conn.execute(
            f"UPDATE gpkg_contents SET (min_x, max_x, min_y, max_y) = "
            f"(SELECT min(minx), max(maxx), min(miny), max(maxy) FROM {quote(rtree_name(table))}) "
            "WHERE table_name = ?", (table,))
    conn.execute("UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                 "WHERE table_name = ?", (table,))
