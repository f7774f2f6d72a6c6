"""Exports that QGIS and Excel open: GeoPackage, GeoJSON, CSV, zipped Shapefile.

Plain functions over the Store interface (through :mod:`gisapp.query`), used
by the download URLs (``/api/export/<layer>.<format>``) and ``gisapp export``.

- GeoPackage: one layer, or ``all``: every layer, the field reports and the
  progress records, activity log and support units, with a ``layer_styles``
  table (QGIS QML) so QGIS opens each layer coloured like the web map (a one
  layer file holds only that layer: scripts may open it without a layer name).
- GeoJSON: RFC 7946 (WGS84, right-hand rule, 7 decimals).
- CSV: UTF-8 with BOM (Excel keeps the Chinese), ``lon``/``lat`` columns; for
  lines and polygons the centroid plus a ``wkt`` column.
- Shapefile (zip): ``.cpg`` (UTF-8); field names cut to 10 characters
  predictably (``name[:10]``, on a clash ``name[:8]`` + two digits) and the
  mapping written beside it as ``<layer>_fields.csv``.

Filters: ``community`` (code), ``status`` (latest progress status, several
comma-separated) and ``as_of`` (state on a date). See docs/ogcapi.md.
"""
from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyogrio
import shapely

from .catalog import Collection, all_collections, get_collection
from .errors import BadRequest
from .geojson import features, rfc7946
from .qgis_styles import layer_styles
from .query import Query, run
from .storage import Store
from .vocab import REPORT_STATES, STATUSES

FORMATS = {"gpkg": ".gpkg", "geojson": ".geojson", "csv": ".csv", "shp.zip": ".shp.zip"}
MEDIA_TYPES = {"gpkg": "application/geopackage+sqlite3", "geojson": "application/geo+json",
               "csv": "text/csv; charset=utf-8", "shp.zip": "application/zip"}
ALL = "all"
CHUNK = 50_000  # rows read at a time
TABLES = {"progress": "record_date", "activity_log": "log_date", "support_units": None}  # table -> date column
PRIVATE_COLUMNS = {"progress": ["author"], "activity_log": ["author"], "support_units": ["contact"]}


def _bad(zh: str, en: str):
    raise BadRequest({"zh": zh, "en": en})


@dataclass(frozen=True)
class Filter:
    community: str | None = None
    statuses: tuple[str, ...] = ()
    as_of: dt.date | None = None

    def stamp(self) -> str:
        return (self.as_of or dt.date.today()).strftime("%Y%m%d")


def parse_filter(community: str | None = None, status: str | None = None, as_of: str | None = None) -> Filter:
    """A validated :class:`Filter` from text parameters (URL or command line)."""
    statuses = tuple(s.strip() for s in (status or "").split(",") if s.strip())
    known = [*STATUSES, *REPORT_STATES]
    bad = [s for s in statuses if s not in known]
    if bad:
        _bad(f"未知状态：{bad[0][:40]}（可用：{', '.join(known)}）", f"unknown status: {bad[0][:40]} (use: {', '.join(known)})")
    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        _bad(f"参数 as_of 不是有效日期（应为 YYYY-MM-DD）：{as_of[:40]}",
             f"parameter as_of is not a date (YYYY-MM-DD): {as_of[:40]}")
    return Filter(community.strip() or None if community else None, statuses, day)


def parse_name(name: str) -> tuple[str, str]:
    """``back_lanes.shp.zip`` -> (``back_lanes``, ``shp.zip``)."""
    layer, _, fmt = name.partition(".")
    if fmt not in FORMATS:
        _bad(f"不支持的导出格式：{fmt[:20]}（可用：{', '.join(FORMATS)}）",
             f"unsupported export format: {fmt[:20]} (use: {', '.join(FORMATS)})")
    return layer, fmt


# --- selecting rows --------------------------------------------------------------
def _query(coll: Collection, flt: Filter, strict: bool) -> Query:
    """The query for one collection. ``strict``: refuse a filter that cannot apply
    (one layer asked); otherwise (``all``) such a filter is skipped for that layer."""
    where: dict = {}
    column = coll.community_column
    if flt.community and column is None and strict:
        _bad(f"图层 {coll.id} 没有所属社区字段，不能按社区筛选", f"layer {coll.id} has no community field")
    if flt.community and column:
        where[column] = flt.community
    # statuses: progress statuses for layers with progress; report states when the reports
    # alone are exported (in 'all' they name progress statuses, so reports are not filtered)
    vocab = STATUSES if coll.progress else (REPORT_STATES if coll.layer is None and strict else {})
    wanted = tuple(s for s in flt.statuses if s in vocab)
    if flt.statuses and not wanted and strict:
        _bad(f"图层 {coll.id} 没有这些状态：{', '.join(flt.statuses)[:60]}",
             f"layer {coll.id} has none of these statuses: {', '.join(flt.statuses)[:60]}")
    if wanted and not coll.progress:
        where["status"] = list(wanted)
    if flt.as_of and coll.time_field and flt.as_of < dt.date.max:
        where[coll.time_field] = {"<": (flt.as_of + dt.timedelta(days=1)).isoformat()}
    return Query(where=where, statuses=wanted if coll.progress else (), as_of=flt.as_of)


def frames(store: Store, coll: Collection, flt: Filter, include_private: bool, strict: bool = True,
           chunk: int | None = None) -> Iterator[gpd.GeoDataFrame]:
    """The collection's features with their state, filtered, columns in output order: in chunks
    of ``chunk`` rows (fid order, each read after the last fid seen), so that an export of a
    million reports holds one chunk in memory. At least one chunk, maybe empty."""
    q, chunk, last = _query(coll, flt, strict), chunk or CHUNK, None
    columns = list(coll.property_types(include_private))
    while True:
        where = q.where if last is None else {**q.where, "fid": {">": last}}
        df = run(store, coll, replace(q, where=where, limit=chunk), include_private).frame
        if len(df) or last is None:
            yield df[columns + [df.geometry.name]]
        if len(df) < chunk:
            return
        last = int(df.index.max())


def _typed(df: gpd.GeoDataFrame, coll: Collection, include_private: bool, with_id: bool = True) -> gpd.GeoDataFrame:
    """Integer and boolean fields as nullable dtypes so files keep their types; ``id``
    (the feature id of the API) as the first column."""
    df = df.copy()
    if with_id and "id" not in df.columns:
        df.insert(0, "id", df.index.to_numpy())
    for name, type_ in coll.property_types(include_private).items():
        if type_ == "real" and df[name].isna().all():  # a chunk of missing values: not a text field
            df[name] = df[name].astype("float64")
        elif type_ == "integer":
            df[name] = pd.array(df[name].astype("Float64").round(), dtype="Int64")
        elif type_ == "boolean":
            df[name] = df[name].map(lambda v: None if v is None or v != v else bool(v)).astype("boolean")
    return df


def records(store: Store, table: str, flt: Filter, codes: dict[str, set], include_private: bool) -> pd.DataFrame:
    """Rows of an attribute table for the 'all' GeoPackage, filtered like the layers."""
    where: dict = {}
    date_col = TABLES[table]
    if flt.as_of and date_col:
        where[date_col] = {"<=": flt.as_of.isoformat()}
    if flt.community and table != "progress":
        where["community_code"] = flt.community
    df = store.read(table, where=where)
    if table == "progress":
        keep = np.zeros(len(df), dtype=bool)
        for layer, layer_codes in codes.items():
            keep |= ((df["layer"] == layer) & df["feature_code"].isin(layer_codes)).to_numpy()
        df = df[keep]
    if not include_private:
        df = df.drop(columns=PRIVATE_COLUMNS.get(table, []))
    return df.rename_axis("id").reset_index()  # the store's row id ("fid" is the GeoPackage's own)


# --- writers -----------------------------------------------------------------------
def _write_layer(df: gpd.GeoDataFrame, path: Path, layer: str, geometry: str, **options) -> None:
    pyogrio.write_dataframe(df.reset_index(drop=True), path, layer=layer, geometry_type=geometry, **options)


def write_gpkg(store: Store, colls: list[Collection], flt: Filter, path: Path, include_private: bool,
               with_tables: bool) -> int:
    """Layers (and, for 'all', the attribute tables and the QGIS styles) in one GeoPackage."""
    total, codes, first = 0, {}, True
    for coll in colls:
        for i, df in enumerate(frames(store, coll, flt, include_private, strict=not with_tables)):
            if coll.progress:
                codes.setdefault(coll.id, set()).update(df[coll.link_field] if coll.link_field in df else ())
            options = {"dataset_options": {"VERSION": "1.2"}} if first else {"append": i > 0}
            _write_layer(_typed(df, coll, include_private), path, coll.id, coll.geometry, **options)
            total, first = total + len(df), False
    if with_tables:  # 'all': the records, and QGIS styles (one layer files stay one layer)
        for table in TABLES:
            pyogrio.write_dataframe(records(store, table, flt, codes, include_private), path, layer=table)
        pyogrio.write_dataframe(layer_styles(colls), path, layer="layer_styles")
    return total


def write_geojson(chunks: Iterable[gpd.GeoDataFrame], coll: Collection, path: Path, include_private: bool) -> int:
    """One FeatureCollection, written chunk by chunk."""
    types, total = coll.property_types(include_private), 0
    with path.open("wb") as out:
        out.write(b'{"type":"FeatureCollection","name":' + orjson.dumps(coll.id) + b',"features":[')
        for df in chunks:
            feats = features(df, types)
            if feats:
                out.write((b"," if total else b"") + b",".join(orjson.dumps(f) for f in feats))
            total += len(df)
        out.write(b"]}")
    return total


def csv_frame(df: gpd.GeoDataFrame, coll: Collection, include_private: bool) -> pd.DataFrame:
    """Attributes, then lon/lat (points; centroid otherwise) and, for lines and polygons, WKT."""
    geoms = rfc7946(df.geometry.array)
    points = shapely.centroid(geoms) if coll.geometry != "Point" else geoms
    out = pd.DataFrame(_typed(df, coll, include_private).drop(columns=df.geometry.name))
    out["lon"], out["lat"] = np.round(shapely.get_x(points), 7), np.round(shapely.get_y(points), 7)
    if coll.geometry != "Point":
        out["wkt"] = shapely.to_wkt(geoms, rounding_precision=7, trim=True)
    return out


def write_csv(chunks: Iterable[gpd.GeoDataFrame], coll: Collection, path: Path, include_private: bool) -> int:
    total = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        for i, df in enumerate(chunks):
            csv_frame(df, coll, include_private).to_csv(out, index=False, header=i == 0, lineterminator="\r\n")
            total += len(df)
    return total


def short_names(columns: list[str]) -> dict[str, str]:
    """Unique names of at most 10 characters: ``name[:10]``, then ``name[:8]`` + 01, 02…"""
    out, used = {}, set()
    for col in columns:
        short, n = col[:10], 1
        while short in used:
            short, n = f"{col[:8]}{n:02d}", n + 1
        used.add(short)
        out[col] = short
    return out


def write_shapefile(chunks: Iterable[gpd.GeoDataFrame], coll: Collection, folder: Path, include_private: bool) -> int:
    """<layer>.shp (+ .shx .dbf .prj .cpg) and <layer>_fields.csv (short name -> field)."""
    names = short_names(["id", *coll.property_types(include_private)])
    path, total = folder / f"{coll.id}.shp", 0
    for i, df in enumerate(chunks):
        _write_layer(_typed(df, coll, include_private).rename(columns=names), path, coll.id, coll.geometry,
                     encoding="UTF-8", append=i > 0)
        total += len(df)
    mapping = pd.DataFrame({"shapefile_field": list(names.values()), "field": list(names),
                            "title_zh": [coll.label(n, "zh") for n in names],
                            "title_en": [coll.label(n, "en") for n in names]})
    mapping.to_csv(folder / f"{coll.id}_fields.csv", index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return total


def _zip_folder(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f.name)


# --- entry points ---------------------------------------------------------------------
def collections_for(store: Store, layer: str, include_private: bool) -> list[Collection]:
    if layer == ALL:
        return all_collections(store.registry, include_private)
    return [get_collection(store.registry, layer, include_private)]


def export(store: Store, layer: str, fmt: str, path: str | Path, flt: Filter = Filter(),
           include_private: bool = True) -> int:
    """Write ``layer`` (a collection id or ``all``) as ``fmt`` to ``path``; returns the feature count.

    ``fmt``: gpkg, geojson, csv, shp.zip, or shp (a shapefile set written beside ``path``).
    """
    path = Path(path)
    colls = collections_for(store, layer, include_private)
    if layer == ALL and flt.statuses and not set(flt.statuses) & set(STATUSES):
        _bad("“全部图层”按进度状态筛选（planned、in_progress、done、accepted）",
             "for 'all', status filters progress statuses (planned, in_progress, done, accepted)")
    if fmt == "gpkg":
        path.unlink(missing_ok=True)
        return write_gpkg(store, colls, flt, path, include_private, with_tables=layer == ALL)
    if layer == ALL and fmt in ("geojson", "csv"):
        _bad("“全部图层”只能导出为 GeoPackage 或 Shapefile 压缩包", "'all' exports only as gpkg or shp.zip")
    if fmt in ("shp", "shp.zip"):
        return _export_shapefiles(store, colls, flt, path, include_private, zipped=fmt == "shp.zip", strict=layer != ALL)
    chunks = frames(store, colls[0], flt, include_private)
    return (write_geojson if fmt == "geojson" else write_csv)(chunks, colls[0], path, include_private)


def _export_shapefiles(store, colls, flt, path: Path, include_private: bool, zipped: bool, strict: bool) -> int:
    """A zip of shapefiles (one per collection), or one shapefile set at ``path``."""
    if not zipped and len(colls) > 1:
        _bad("“全部图层”请导出为 .zip", "export 'all' as .zip")
    total = 0
    with tempfile.TemporaryDirectory(prefix="gisapp-shp-") as tmp:
        folder = Path(tmp)
        for coll in colls:
            total += write_shapefile(frames(store, coll, flt, include_private, strict), coll, folder, include_private)
        if zipped:
            _zip_folder(folder, path)
            return total
        for f in folder.iterdir():  # one layer: <path>.shp .shx .dbf .prj .cpg and <path stem>_fields.csv
            target = path.with_name(path.stem + "_fields.csv") if f.name.endswith("_fields.csv") \
                else path.with_suffix(f.suffix)
            shutil.move(f, target)
    return total


def export_to_temp(store: Store, layer: str, fmt: str, flt: Filter = Filter(), include_private: bool = True) -> Path:
    """The export written in a new temporary folder (for downloads, sent from disk); the caller
    removes ``path.parent``. Nothing is left behind when it fails."""
    folder = Path(tempfile.mkdtemp(prefix="gisapp-export-"))
    try:
        path = folder / f"{layer}{FORMATS[fmt]}"
        export(store, layer, fmt, path, flt, include_private)
        return path
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


SUFFIX_FORMATS = {".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".csv": "csv",
                  ".zip": "shp.zip", ".shp": "shp"}


def format_for(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        _bad(f"不支持的导出格式：{suffix}", f"unsupported export format: {suffix} (use .gpkg .geojson .csv .zip .shp)")
    return SUFFIX_FORMATS[suffix]


def export_layer(store: Store, layer_id: str, path: str | Path, include_private: bool = True) -> int:
    """Write a layer with its latest progress state; the file suffix picks the format."""
    return export(store, layer_id, format_for(path), path, Filter(), include_private)

