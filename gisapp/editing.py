"""Drawing and editing features: geometry checks and attributes typed by the layer definition."""
from __future__ import annotations

import datetime as dt
import math
from html import escape

import geopandas as gpd
import shapely
from shapely.geometry import shape

from .errors import NotFound, ValidationFailed
from .registry import LayerDef
from .storage import Store

SINGLE = {"MultiPoint": "Point", "MultiLineString": "LineString", "MultiPolygon": "Polygon"}
TOLERANCE_DEG = 0.0005  # ~50 m: a drawing may touch the outline


def _fail(zh: str, en: str):
    raise ValidationFailed({"zh": zh, "en": en})


def _coords_ok(geom) -> bool:
    xy = shapely.get_coordinates(geom)
    return len(xy) > 0 and all(math.isfinite(v) for v in xy.ravel()) \
        and (abs(xy[:, 0]) <= 180).all() and (abs(xy[:, 1]) <= 90).all()


def outline(store: Store):
    """The subdistrict outline (the first admin layer without a community), or None."""
    layer = next((l for l in store.registry if l.kind == "admin" and l.community_field is None), None)
    gdf = store.read(layer.id, columns=[layer.link_field]) if layer else None
    return None if gdf is None or gdf.empty else shapely.union_all(gdf.geometry.values)


def prepare_geometry(layer: LayerDef, geojson, area) -> shapely.Geometry:
    """A drawn GeoJSON geometry checked for the layer: its type (single parts become the
    layer's Multi type), valid, with sane coordinates, inside the area (if given)."""
    try:
        geom = shape(geojson)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError, shapely.errors.ShapelyError):
        _fail("几何数据无效", "not a valid GeoJSON geometry")
    if geom.is_empty or not _coords_ok(geom):
        _fail("坐标无效或超出经纬度范围", "coordinates are missing or out of range")
    wanted = layer.geometry
    if geom.geom_type == SINGLE.get(wanted):
        geom = {"MultiPoint": shapely.MultiPoint, "MultiLineString": shapely.MultiLineString,
                "MultiPolygon": shapely.MultiPolygon}[wanted]([geom])
    if geom.geom_type != wanted:
        _fail(f"该图层需要{wanted}几何，收到的是{geom.geom_type}", f"this layer takes {wanted}, not {geom.geom_type}")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        _fail(f"几何无效（如自相交）：{reason}", f"invalid geometry (e.g. self-intersecting): {reason}")
    if area is not None and not area.buffer(TOLERANCE_DEG).covers(geom):
        _fail("要素超出街道辖区范围", "the feature lies outside the subdistrict")
    return geom


def typed_value(field, raw):
    text = "" if raw is None else str(raw).strip()
    if text == "":
        if field.required:
            _fail(f"“{field.title.zh}”为必填项", f"{field.title.en} is required")
        return None
    try:
        if field.type == "integer":
            return int(text)
        if field.type == "real":
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return value
        if field.type == "date":
            return dt.date.fromisoformat(text)
        if field.type == "boolean":
            return text.lower() in ("1", "true", "yes", "on", "是")
    except ValueError:
        _fail(f"“{field.title.zh}”的值无效：{text[:40]}", f"{field.title.en}: invalid value {text[:40]}")
    return text[:2000]


def attributes(layer: LayerDef, values, partial: bool = False) -> dict:
    """Typed attribute values from a form or JSON; ``partial`` keeps only the fields given."""
    return {f.name: typed_value(f, values.get(f.name)) for f in layer.fields
            if not partial or f.name in values}


def create_feature(store: Store, layer: LayerDef, geojson, values, actor: str, remote_addr=None) -> int:
    geom = prepare_geometry(layer, geojson, outline(store) if layer.kind != "context" else None)
    row = gpd.GeoDataFrame([attributes(layer, values)], geometry=[geom], crs=4326)
    with store.writer(actor, remote_addr) as w:
        (fid,) = w.insert(layer.id, row, summary=f"drawn on the map: {values.get(layer.name_field, '')}")
    return fid


def update_feature(store: Store, layer: LayerDef, fid: int, geojson, values, actor: str, remote_addr=None) -> None:
    if store.count(layer.id, where={"fid": int(fid)}) == 0:
        raise NotFound({"zh": "要素不存在", "en": "no such feature"})
    geom = prepare_geometry(layer, geojson, outline(store) if layer.kind != "context" else None) if geojson else None
    with store.writer(actor, remote_addr) as w:
        w.update(layer.id, fid, attributes(layer, values or {}, partial=True), geometry=geom)


INPUT_TYPES = {"integer": 'type="number" step="1"', "real": 'type="number" step="any"', "date": 'type="date"',
               "datetime": 'type="datetime-local"', "boolean": 'type="checkbox" value="1"', "text": 'type="text"'}


def form_html(layer: LayerDef, lang: str, values: dict | None = None) -> str:
    """The attribute form of a layer, generated from its definition (values escaped)."""
    values = values or {}
    rows = []
    for f in layer.fields:
        value = values.get(f.name)
        shown = "" if value is None else escape(str(value))
        attrs = INPUT_TYPES[f.type] + (" required" if f.required else "")
        checked = " checked" if f.type == "boolean" and value else ""
        rows.append(f'<label>{escape(f.title.get(lang))}{" *" if f.required else ""} '
                    f'<input name="{f.name}" {attrs} value="{shown}"{checked}></label>')
    return (f'<form class="gis-feature-form" data-layer="{layer.id}"><h4>{escape(layer.title.get(lang))}</h4>'
            + "".join(rows) + f'<button type="submit">{"保存" if lang == "zh" else "Save"}</button>'
            '<p class="gis-form-msg" role="status"></p></form>')
