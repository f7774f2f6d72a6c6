"""Reading the GIS files people upload, safely, into WGS84 with a record of how.

Zip and KMZ archives are checked before GDAL touches them: entry names that leave
the archive (``../``, absolute paths, symlinks), too many entries, and zip bombs
(total uncompressed size and compression ratio, measured by decompressing with a
budget rather than trusting the headers). Shapefile text encodings come from a
``.cpg`` (code page names such as ``936`` understood), else are detected (strict
UTF-8, then GB18030), else given. CSV files with lon/lat columns (decimal or
degrees-minutes-seconds) are read with pandas. Data declared GCJ-02 or BD-09
is brought back to WGS84 by the iterative inverse.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ..coords import bd09_to_gcj02, gcj02_to_wgs84
from ..errors import BadRequest, ValidationFailed
from ..gisio import dbf_encoding
from .common import fail

SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".gpx", ".fgb", ".csv")
COORDS = ("wgs84", "gcj02", "bd09")
CODE_PAGES = {"936": "gbk", "cp936": "gbk", "gbk": "gbk", "gb2312": "gbk", "gb18030": "gb18030", "54936": "gb18030",
              "65001": "utf-8", "utf8": "utf-8", "utf-8": "utf-8", "1252": "cp1252", "950": "big5", "big5": "big5"}
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "point_x")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬", "point_y")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    max_uncompressed: int = 2048 << 20
    max_ratio: float = 200
    max_entries: int = 10_000


@dataclass
class Options:
    """What the user may say about a file."""

    encoding: str | None = None
    src_crs: str | None = None
    coords: str = "wgs84"  # wgs84 | gcj02 | bd09
    layer: str | None = None
    lon_col: str | None = None
    lat_col: str | None = None


@dataclass
class Info:
    file: str
    member: str | None = None
    driver: str | None = None
    layer: str | None = None
    layers: list[str] = field(default_factory=list)
    features_read: int = 0
    encoding: str | None = None
    encoding_source: str | None = None  # cpg | detected | given
    crs: str | None = None
    crs_source: str | None = None  # file | given | assumed
    coords: str = "wgs84"
    columns: list[str] = field(default_factory=list)


def _bad_zip(name: str, zh: str, en: str):
    fail(BadRequest, f"压缩包 {name}：{zh}", f"archive {name}: {en}")


def _unsafe_name(name: str) -> bool:
    normal = name.replace("\\", "/")
    parts = PurePosixPath(normal).parts
    return normal.startswith("/") or bool(re.match(r"^[A-Za-z]:", normal)) or ".." in parts or "\x00" in name


def check_zip(path: Path, limits: Limits) -> list[str]:
    """The entry names of a safe archive; refuses traversal, symlinks, bombs and broken archives."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_entries:
                _bad_zip(path.name, f"文件过多（{len(infos)} 个）", f"too many entries ({len(infos)})")
            for info in infos:
                if _unsafe_name(info.filename) or stat.S_ISLNK(info.external_attr >> 16):
                    _bad_zip(path.name, f"含有不安全的路径：{info.filename[:80]}", f"unsafe entry name: {info.filename[:80]}")
            if sum(i.file_size for i in infos) > limits.max_uncompressed:
                _bad_zip(path.name, "解压后过大", "too large once uncompressed")
            budget = limits.max_uncompressed
            for info in infos:
                budget -= _scan(zf, info, budget, limits, path.name)
            return [i.filename for i in infos if not i.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError, OSError) as exc:
        _bad_zip(path.name, f"不是有效的 zip 文件或已损坏（{str(exc)[:80]}）", f"not a valid zip file or damaged ({str(exc)[:80]})")


def _scan(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, limits: Limits, name: str) -> int:
    """Decompress one entry with a budget (headers can lie) and check its ratio and CRC."""
    if info.is_dir():
        return 0
    size = 0
    with zf.open(info) as f:  # raises BadZipFile on a bad CRC at the end
        while chunk := f.read(CHUNK):
            size += len(chunk)
            if size > budget:
                _bad_zip(name, "解压后过大（疑似压缩炸弹）", "too large once uncompressed (zip bomb)")
            if size > CHUNK and size / max(info.compress_size, 1) > limits.max_ratio:
                _bad_zip(name, f"压缩比异常（{info.filename[:60]}，疑似压缩炸弹）",
                         f"abnormal compression ratio ({info.filename[:60]}): zip bomb")
    return size


def dataset_member(names: list[str], archive: str) -> str:
    names = [n for n in names if "__MACOSX" not in n and not PurePosixPath(n).name.startswith(".")]
    for suffix in SUFFIXES:
        found = sorted(n for n in names if n.lower().endswith(suffix))
        if found:
            return found[0]
    fail(ValidationFailed, f"压缩包 {archive} 中没有可识别的 GIS 文件", f"no GIS dataset inside {archive}")


def _cpg_encoding(text: str) -> str | None:
    key = text.strip().strip("\x00").lower()
    enc = CODE_PAGES.get(key) or CODE_PAGES.get(key.removeprefix("cp")) or CODE_PAGES.get(key.replace("-", ""))
    if enc is None:
        try:
            enc = codecs.lookup(key).name
        except LookupError:
            return None
    return enc


def shapefile_encoding(read_sibling) -> tuple[str | None, str | None]:
    """(encoding, 'cpg' | 'detected') from the .cpg or the .dbf bytes; read_sibling(suffix) -> bytes|None."""
    cpg = read_sibling(".cpg")
    if cpg:
        enc = _cpg_encoding(cpg.decode("ascii", "ignore"))
        if enc:
            return enc, "cpg"
    dbf = read_sibling(".dbf")
    return (dbf_encoding(dbf[32:]), "detected") if dbf else (None, None)


def _sibling_reader(path: Path, member: str | None):
    def read(suffix: str) -> bytes | None:
        stem = (member or str(path))[:-4]
        if member:
            with zipfile.ZipFile(path) as zf:
                names = {n.lower(): n for n in zf.namelist()}
                real = names.get((stem + suffix).lower())
                return zf.read(real) if real else None
        for candidate in (stem + suffix, stem + suffix.upper()):
            if Path(candidate).is_file():
                return Path(candidate).read_bytes()
        return None
    return read


def _degrees(value) -> float:
    """Decimal degrees from '104.98', '104°58′48.5″E', '29度10分30秒' or '-29:10:30'."""
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    m = re.fullmatch(r"([-+]?\d+(?:\.\d+)?)\s*[°度:\s]\s*(?:(\d+(?:\.\d+)?)\s*['′分:\s]?\s*)?(?:(\d+(?:\.\d+)?)\s*[\"″秒]?\s*)?([NSEWnsew东西南北])?",
                     text)
    if not m:
        return np.nan
    deg, minutes, seconds, hemi = m.groups()
    value = abs(float(deg)) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
    negative = deg.startswith("-") or (hemi is not None and hemi in "SWsw西南")
    return -value if negative else value


def _find_column(columns, given, names, what: str) -> str:
    if given:
        if given not in columns:
            fail(ValidationFailed, f"CSV 中没有列 {given[:40]}", f"the CSV has no column {given[:40]}")
        return given
    normal = {re.sub(r"[\s_()（）°]", "", c).lower(): c for c in columns}
    for name in names:
        if name in normal:
            return normal[name]
    fail(ValidationFailed, f"CSV 中找不到{what}列，请指定", f"no {what} column found in the CSV; name it")


def read_csv(data: bytes, name: str, options: Options, info: Info) -> gpd.GeoDataFrame:
    enc, info.encoding_source = (options.encoding, "given") if options.encoding else (None, "detected")
    if enc is None:
        enc = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else dbf_encoding(data)
    info.encoding = enc
    try:
        df = pd.read_csv(io.StringIO(data.decode(enc)), dtype=str, keep_default_na=False, sep=None, engine="python")
    except (UnicodeDecodeError, LookupError, pd.errors.ParserError, csv.Error) as exc:
        fail(ValidationFailed, f"无法读取 CSV 文件 {name}：{str(exc)[:100]}", f"cannot read the CSV file {name}: {str(exc)[:100]}")
    lon_col = _find_column(df.columns, options.lon_col, LON_NAMES, "经度（lon）")
    lat_col = _find_column(df.columns, options.lat_col, LAT_NAMES, "纬度（lat）")
    x = np.array([_degrees(v) for v in df[lon_col]], dtype=float)
    y = np.array([_degrees(v) for v in df[lat_col]], dtype=float)
    geoms = np.where(np.isfinite(x) & np.isfinite(y), shapely.points(x, y), None)
    info.driver = "CSV"
    return gpd.GeoDataFrame(df.drop(columns=[lon_col, lat_col]), geometry=list(geoms), crs=None)


def _read_with_gdal(source: str, name: str, options: Options, info: Info) -> gpd.GeoDataFrame:
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(source)]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        fail(ValidationFailed, f"无法读取文件 {name}：{_gdal_message(exc)}", f"cannot read {name}: {_gdal_message(exc)}")
    info.layers = layers
    layer = options.layer or _default_layer(source, layers)
    if layer not in layers:
        fail(ValidationFailed, f"文件中没有图层 {str(layer)[:40]}", f"the file has no layer {str(layer)[:40]}")
    info.layer = layer
    try:
        info.driver = pyogrio.read_info(source, layer=layer).get("driver")
        return pyogrio.read_dataframe(source, layer=layer, encoding=info.encoding, on_invalid="ignore")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.GeometryError, UnicodeDecodeError, ValueError) as exc:
        where = _first_bad_record(source, layer)
        fail(ValidationFailed, f"无法读取文件 {name}{where['zh']}：{_gdal_message(exc)}",
             f"cannot read {name}{where['en']}: {_gdal_message(exc)}")


def _default_layer(source: str, layers: list[str]) -> str | None:
    """The first layer holding features (GPX: waypoints, then tracks, then routes)."""
    ordered = sorted(layers, key=lambda n: {"waypoints": 0, "tracks": 1, "routes": 2}.get(n, 3 if n.endswith("points") else 0))
    for name in ordered:
        try:
            if pyogrio.read_info(source, layer=name).get("features", 0):
                return name
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
            continue
    return ordered[0] if ordered else None


def _first_bad_record(source: str, layer: str | None) -> dict:
    """Fiona reads record by record: name the first feature that cannot be read."""
    read = 0
    try:
        import fiona
        with fiona.open(source, layer=layer) as collection:
            for _ in collection:
                read += 1
    except Exception:  # any failure of any driver: say where, if it got that far
        if read:
            return {"zh": f"（第 {read + 1} 个要素）", "en": f" (feature {read + 1})"}
    return {"zh": "", "en": ""}


def _gdal_message(exc: Exception) -> str:
    """GDAL's first line, without the folders of our private files."""
    return re.sub(r"(?:/vsizip/)?/(?:[^/\s:]+/)+", "", str(exc)).split("\n")[0][:160]


def open_source(path: Path, limits: Limits) -> tuple[str, str | None]:
    """(what GDAL reads, the member inside an archive) after the archive checks."""
    suffix = path.suffix.lower()
    if suffix in (".zip", ".kmz"):
        names = check_zip(path, limits)
        if suffix == ".kmz":
            kml = sorted((n for n in names if n.lower().endswith(".kml")), key=lambda n: (n != "doc.kml", n))
            if not kml:
                _bad_zip(path.name, "KMZ 中没有 KML 文件", "no KML file inside the KMZ")
            return f"/vsizip/{path}/{kml[0]}", kml[0]
        member = dataset_member(names, path.name)
        return f"/vsizip/{path}/{member}", member
    return str(path), None


def read_source(path: str | Path, options: Options | None = None, limits: Limits | None = None) -> tuple[gpd.GeoDataFrame, Info]:
    """A GIS file as a GeoDataFrame in EPSG:4326 and what was found out reading it."""
    path, options, limits = Path(path), options or Options(), limits or Limits()
    if options.coords not in COORDS:
        fail(ValidationFailed, f"未知的坐标类型 {options.coords[:10]}", f"unknown coordinate kind {options.coords[:10]}")
    if not path.is_file():
        fail(ValidationFailed, f"文件不存在：{path.name}", f"file not found: {path.name}")
    source, member = open_source(path, limits)
    info = Info(file=path.name, member=member, coords=options.coords)
    target = (member or path.name).lower()
    if target.endswith(".csv"):
        data = zipfile.ZipFile(path).read(member) if member else path.read_bytes()
        gdf = read_csv(data, path.name, options, info)
    else:
        if target.endswith(".shp"):
            info.encoding, info.encoding_source = (options.encoding, "given") if options.encoding else \
                shapefile_encoding(_sibling_reader(path, member))
        gdf = _read_with_gdal(source, path.name, options, info)
    info.features_read, info.columns = len(gdf), [c for c in gdf.columns if c != gdf.geometry.name]
    return to_wgs84(gdf, path.name, options, info), info


def to_wgs84(gdf: gpd.GeoDataFrame, name: str, options: Options, info: Info) -> gpd.GeoDataFrame:
    if options.src_crs:
        try:
            gdf = gdf.set_crs(options.src_crs, allow_override=True)
        except Exception:  # pyproj raises several kinds for a bad CRS text
            fail(ValidationFailed, f"无法识别坐标系 {options.src_crs[:40]}", f"unknown CRS {options.src_crs[:40]}")
        info.crs_source = "given"
    elif gdf.crs is None and info.driver == "CSV":
        gdf, info.crs_source = gdf.set_crs(4326), "assumed"
    elif gdf.crs is None:
        fail(ValidationFailed, f"{name} 没有坐标系信息（缺少 .prj），请指定源坐标系（例如 EPSG:4544）",
             f"{name} has no CRS (no .prj); give the source CRS (e.g. EPSG:4544)")
    else:
        info.crs_source = "file"
    epsg = gdf.crs.to_epsg()
    info.crs = f"EPSG:{epsg}" if epsg else gdf.crs.name
    _check_degrees(gdf, name)
    gdf = gdf.to_crs(4326)
    if options.coords != "wgs84" and len(gdf):
        gdf = gdf.set_geometry(shapely.transform(gdf.geometry.values, lambda xy: _unshift(xy, options.coords)))
    return gdf


def _check_degrees(gdf: gpd.GeoDataFrame, name: str) -> None:
    if gdf.crs.is_geographic and len(gdf) and gdf.geometry.notna().any():
        minx, miny, maxx, maxy = gdf.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            fail(ValidationFailed, f"{name} 的坐标超出经纬度范围：可能是投影坐标，请指定源坐标系（例如 EPSG:4544）",
                 f"{name} has coordinates outside degree ranges: probably projected; give the source CRS (e.g. EPSG:4544)")


def _unshift(xy: np.ndarray, coords: str) -> np.ndarray:
    lon, lat = xy[:, 0], xy[:, 1]
    if coords == "bd09":
        lon, lat = bd09_to_gcj02(lon, lat)
    lon, lat = gcj02_to_wgs84(lon, lat)
    return np.column_stack([lon, lat])
