"""The areas a snapshot can be made for, and how a URL or CLI key names one.

| kind | layer | key | assignment geometry |
| --- | --- | --- | --- |
| community | communities | code or name | the community polygon (features are assigned by community code) |
| area | renovation_areas | code or name | the area polygon |
| lane | back_lanes | code or name | the lane buffered by ``lane_buffer_m`` (default 30 m) each side |
| market | markets | code or name | the market polygon buffered by ``market_buffer_m`` (default 100 m) |
| bbox | — | ``minlon,minlat,maxlon,maxlat`` (WGS84) | the rectangle |
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from ..errors import BadRequest, NotFound
from .text import L, SUBDISTRICT

AREA_LAYERS = {"community": "communities", "area": "renovation_areas", "lane": "back_lanes", "market": "markets"}
KINDS = (*AREA_LAYERS, "bbox")
ATLAS_LAYERS = {layer: kind for kind, layer in AREA_LAYERS.items()}  # the layers an atlas can be made of
LANE_BUFFER_M = 30.0
MARKET_BUFFER_M = 100.0
MAX_BBOX_DEGREES = 0.5  # a rectangle is at most this wide and high (about 50 km)
GK_CM105 = "EPSG:4544"  # CGCS2000 / 3-degree Gauss-Krüger CM 105E: Fushun's metric CRS


@dataclass(frozen=True)
class Area:
    """A place a snapshot is made for. Geometries are WGS84 (EPSG:4326)."""

    kind: str  # community | area | lane | market | bbox | subdistrict
    key: str  # the feature code, or the rectangle as text
    name: str  # the feature's name (stored text), or the rectangle's coordinates
    geometry: BaseGeometry  # what features are intersected with
    outline: BaseGeometry  # what is drawn as the area's outline
    layer: str | None = None

    def title(self, lang: str) -> str:
        if self.kind == "subdistrict":
            return SUBDISTRICT["en" if lang == "en" else "zh"]
        if self.kind == "bbox":
            return f"{L('kind_bbox', lang)} {self.name}"
        return self.name

    def kind_label(self, lang: str) -> str:
        return L(f"kind_{self.kind}", lang)

    @property
    def slug(self) -> str:
        """An ASCII, file-name-safe identifier: ``community-510322100031``."""
        safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in self.key)
        return f"{self.kind}-{safe}"


def metric_crs(geom: BaseGeometry) -> str:
    """EPSG:4544 near Fushun (CM 105E ± 1.5°); elsewhere a transverse Mercator centred on the place."""
    lon, lat = (geom.centroid.x, geom.centroid.y) if not geom.is_empty else (105.0, 29.0)
    if 103.5 <= lon <= 106.5:
        return GK_CM105
    return f"+proj=tmerc +lat_0=0 +lon_0={lon:.4f} +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"


def buffer_m(geom: BaseGeometry, metres: float) -> BaseGeometry:
    """``geom`` widened by ``metres``, computed in a metric CRS."""
    crs = metric_crs(geom)
    projected = gpd.GeoSeries([geom], crs="EPSG:4326").to_crs(crs)
    return projected.buffer(metres).to_crs("EPSG:4326").iloc[0]


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` in WGS84 degrees (Leaflet's ``getBounds().toBBoxString()``)."""
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BadRequest({"zh": f"范围应为 最小经度,最小纬度,最大经度,最大纬度：{text[:60]}",
                          "en": f"a rectangle is minlon,minlat,maxlon,maxlat: {text[:60]}"})
    minx, miny, maxx, maxy = values
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise BadRequest({"zh": "范围的经纬度无效（需最小值小于最大值，经度 ±180，纬度 ±90）",
                          "en": "invalid rectangle (min below max, longitude within ±180, latitude within ±90)"})
    if maxx - minx > MAX_BBOX_DEGREES or maxy - miny > MAX_BBOX_DEGREES:
        raise BadRequest({"zh": f"范围过大：宽、高均不能超过 {MAX_BBOX_DEGREES} 度",
                          "en": f"rectangle too large: at most {MAX_BBOX_DEGREES} degrees wide and high"})
    return values


def bbox_area(text: str) -> Area:
    minx, miny, maxx, maxy = parse_bbox(text)
    rect = box(minx, miny, maxx, maxy)
    name = f"{minx:.5f},{miny:.5f} – {maxx:.5f},{maxy:.5f}"
    return Area("bbox", f"{minx:.6f},{miny:.6f},{maxx:.6f},{maxy:.6f}", name, rect, rect)


def _find(gdf: gpd.GeoDataFrame, key: str, link_field: str, name_field: str):
    """The feature whose code (or, failing that, exact name) is ``key``."""
    for column in (link_field, name_field):
        hits = gdf[gdf[column].astype(str) == key]
        if len(hits):
            return hits.iloc[0]
    return None


def _not_found(kind: str, key: str) -> NotFound:
    shown = key[:60]
    return NotFound({"zh": f"没有编码或名称为“{shown}”的{L('kind_' + kind, 'zh')}",
                     "en": f"no {L('kind_' + kind, 'en').lower()} with code or name '{shown}'"})


def feature_area(kind: str, layer_id: str, row, link_field: str, name_field: str,
                 lane_buffer_m: float = LANE_BUFFER_M, market_buffer_m: float = MARKET_BUFFER_M) -> Area:
    geom = row.geometry
    if kind == "lane":
        reach = buffer_m(geom, lane_buffer_m)
    elif kind == "market":
        reach = buffer_m(geom, market_buffer_m)
    else:
        reach = geom
    return Area(kind, str(row[link_field]), str(row[name_field]), shapely.make_valid(reach), geom, layer_id)


def resolve_area(layers: dict, registry, kind: str, key: str, lane_buffer_m: float = LANE_BUFFER_M,
                 market_buffer_m: float = MARKET_BUFFER_M) -> Area:
    """The :class:`Area` named by ``kind`` and ``key``; :class:`NotFound` if there is none.

    ``layers`` maps layer ids to GeoDataFrames (as :class:`~gisapp.snapshot.data.SnapshotData` holds them).
    """
    if kind == "bbox":
        return bbox_area(key)
    if kind not in AREA_LAYERS:
        raise NotFound({"zh": f"未知的快照范围类型“{kind[:30]}”，可用：{'、'.join(KINDS)}",
                        "en": f"unknown snapshot area kind '{kind[:30]}'; use one of {', '.join(KINDS)}"})
    layer_id = AREA_LAYERS[kind]
    if layer_id not in registry or layer_id not in layers:
        raise _not_found(kind, key)
    layer = registry.get(layer_id)
    row = _find(layers[layer_id], key, layer.link_field, layer.name_field)
    if row is None or row.geometry is None or row.geometry.is_empty:
        raise _not_found(kind, key)
    return feature_area(kind, layer_id, row, layer.link_field, layer.name_field, lane_buffer_m, market_buffer_m)


def subdistrict_area(layers: dict) -> Area:
    """The whole subdistrict: its outline if stored, else the union of the communities."""
    for layer_id in ("subdistrict", "communities"):
        gdf = layers.get(layer_id)
        if gdf is not None and len(gdf):
            geom = shapely.union_all(gdf.geometry.values)
            return Area("subdistrict", "all", SUBDISTRICT["zh"], geom, geom, layer_id)
    empty = shapely.Polygon()
    return Area("subdistrict", "all", SUBDISTRICT["zh"], empty, empty)
