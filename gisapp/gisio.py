"""Read GIS files into layers (plain functions); exports live in :mod:`gisapp.exports`.

Reading handles what offices send: zipped shapefiles with folders inside,
GBK/GB18030 text without a .cpg, files in a projected CRS, and GCJ-02
coordinates. Everything is converted to WGS84 (EPSG:4326) before storing.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from .coords import gcj02_to_wgs84
from .errors import ValidationFailed
from .registry import LayerDef
from .storage import Store

DATASET_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".gpx", ".fgb")


def _fail(zh: str, en: str):
    raise ValidationFailed({"zh": zh, "en": en})


def dbf_encoding(dbf_bytes: bytes) -> str:
    """UTF-8 when the bytes decode strictly as UTF-8, else GB18030 (a GBK superset)."""
    try:
        dbf_bytes.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def _dataset_in_zip(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/") and "__MACOSX" not in n]
    for suffix in DATASET_SUFFIXES:
        found = [n for n in names if n.lower().endswith(suffix)]
        if found:
            return found[0]
    _fail(f"压缩包中没有可识别的 GIS 文件：{path.name}", f"no GIS dataset inside {path.name}")


def _shapefile_encoding(path: Path, zip_member: str | None) -> str | None:
    """None when a .cpg says it; otherwise detected from the .dbf bytes."""
    def sibling(suffix: str) -> str:
        return (zip_member or str(path))[:-4] + suffix

    if zip_member:
        with zipfile.ZipFile(path) as zf:
            names = {n.lower(): n for n in zf.namelist()}
            if sibling(".cpg").lower() in names:
                return None
            dbf = names.get(sibling(".dbf").lower())
            return dbf_encoding(zf.read(dbf)[32:]) if dbf else None
    if Path(sibling(".cpg")).exists() or Path(sibling(".CPG")).exists():
        return None
    dbf = Path(sibling(".dbf"))
    return dbf_encoding(dbf.read_bytes()[32:]) if dbf.exists() else None


def read_gis_file(path: str | Path, encoding: str | None = None, src_crs: str | None = None,
                  gcj02: bool = False) -> gpd.GeoDataFrame:
    """A GIS file as a GeoDataFrame in EPSG:4326."""
    path = Path(path)
    if not path.is_file():
        _fail(f"文件不存在：{path}", f"file not found: {path}")
    member = _dataset_in_zip(path) if path.suffix.lower() == ".zip" else None
    source = f"/vsizip/{path}/{member}" if member else str(path)
    if encoding is None and (member or str(path)).lower().endswith(".shp"):
        encoding = _shapefile_encoding(path, member)
    try:
        gdf = pyogrio.read_dataframe(source, encoding=encoding)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, UnicodeDecodeError) as exc:
        _fail(f"无法读取文件 {path.name}：{exc}", f"cannot read {path.name}: {exc}")
    if src_crs:
        gdf = gdf.set_crs(src_crs, allow_override=True)
    if gdf.crs is None:
        _fail(f"{path.name} 没有坐标系信息，请指定源坐标系（例如 EPSG:4544）",
              f"{path.name} has no CRS; give the source CRS (e.g. EPSG:4544)")
    gdf = gdf.to_crs(4326)
    if gcj02:
        gdf = gdf.set_geometry(shapely.transform(gdf.geometry.values, _gcj_xy))
    return gdf


def _gcj_xy(coords):
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    coords[:, 0], coords[:, 1] = lon, lat
    return coords


def _shapefile_names(names: list[str], columns: list[str]) -> dict[str, str]:
    """Map field names cut to 10 characters by the shapefile format back to the layer's."""
    out = {}
    for name in names:
        short = name[:10]
        if name not in columns and short in columns and sum(n[:10] == short for n in names) == 1:
            out[short] = name
    return out


def to_layer(layer: LayerDef, gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Keep the layer's fields; complain about missing required ones. Returns (rows, ignored columns)."""
    names = [f.name for f in layer.fields]
    gdf = gdf.rename(columns=_shapefile_names(names, list(gdf.columns)))
    missing = [f.name for f in layer.fields if f.required and f.name not in gdf.columns]
    if missing:
        _fail(f"缺少必填字段：{', '.join(missing)}", f"missing required fields: {', '.join(missing)}")
    for f in layer.fields:
        if f.required and gdf[f.name].isna().any():
            row = int(gdf[f.name].isna().to_numpy().nonzero()[0][0]) + 1
            _fail(f"第 {row} 行的必填字段 {f.name} 为空", f"row {row}: required field {f.name} is empty")
    ignored = [c for c in gdf.columns if c not in names and c != gdf.geometry.name]
    keep = [c for c in names if c in gdf.columns]
    rows = gdf[keep + [gdf.geometry.name]]
    return (rows if gdf.geometry.name == "geometry" else rows.rename_geometry("geometry")), ignored


def import_file(store: Store, layer_id: str, path, actor: str, **read_options) -> dict:
    layer = store.registry.get(layer_id)
    rows, ignored = to_layer(layer, read_gis_file(path, **read_options))
    with store.writer(actor) as w:
        fids = w.insert(layer_id, rows, summary=f"import {Path(path).name}")
    return {"layer": layer_id, "inserted": len(fids), "ignored_columns": ignored}


def export_layer(store: Store, layer_id: str, path: str | Path, include_private: bool = True) -> int:
    """Moved to :mod:`gisapp.exports` (kept here for existing callers)."""
    from .exports import export_layer as _export_layer
    return _export_layer(store, layer_id, path, include_private)
