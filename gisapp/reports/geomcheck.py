"""Geometry checks for imports: missing and empty geometries refused, invalid ones
repaired (shapely.make_valid) when the repair keeps the wanted kind, else refused."""
from __future__ import annotations

import numpy as np
import shapely

FAMILY = {"Point": "Point", "MultiPoint": "Point", "LineString": "LineString", "MultiLineString": "LineString",
          "Polygon": "Polygon", "MultiPolygon": "Polygon"}
SINGLE = ("Point", "LineString", "Polygon")


def _reason(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


def _parts_of(geom, family: str):
    """The parts of a (repaired) geometry that belong to the family."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in (family, "Multi" + family)]
    parts = [q for p in parts for q in shapely.get_parts(p)]
    return [p for p in parts if not p.is_empty]


def _fit(geom, target: str):
    """The geometry as the target type wants it, or (None, reason)."""
    family = FAMILY[target]
    if FAMILY.get(geom.geom_type) != family:
        return None, _reason(f"几何类型为 {geom.geom_type}，需要 {target}", f"geometry is a {geom.geom_type}; {target} wanted")
    if target in SINGLE and geom.geom_type.startswith("Multi"):
        parts = shapely.get_parts(geom)
        if len(parts) != 1:
            return None, _reason(f"多部件几何（{len(parts)} 部分），需要单个 {target}",
                                 f"multi-part geometry ({len(parts)} parts); a single {target} wanted")
        return parts[0], None
    return geom, None


def _repair(geom, target: str):
    family = FAMILY[target]
    method = {"method": "structure", "keep_collapsed": False} if family == "Polygon" else {}
    fixed = shapely.make_valid(geom, **method)
    parts = _parts_of(fixed, family)
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return {"Point": shapely.multipoints, "LineString": shapely.multilinestrings, "Polygon": shapely.multipolygons}[family](parts)


def clean_geometries(geoms, target: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(geometries fit for the target type, a refusal reason or None per row, number repaired).

    Vectorised for the common case; only rows with a problem are looked at one by one."""
    geoms = np.asarray(geoms, dtype=object).copy()
    reasons = np.full(len(geoms), None, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    reasons[missing], geoms[missing] = [_reason("没有几何", "no geometry")] * int(missing.sum()), None
    invalid = ~missing & ~shapely.is_valid(geoms)
    repaired = 0
    for i in np.flatnonzero(invalid):
        why = shapely.is_valid_reason(geoms[i])
        geoms[i] = _repair(geoms[i], target)
        if geoms[i] is None:
            reasons[i] = _reason(f"几何无效且无法修复：{why}", f"invalid geometry that cannot be repaired: {why}")
        else:
            repaired += 1
    present = ~shapely.is_missing(geoms)
    bad = present.copy()
    bad[present] = ~np.isfinite(shapely.bounds(geoms[present])).all(axis=1)
    reasons[bad], geoms[bad] = [_reason("坐标无效", "non-finite coordinates")] * int(bad.sum()), None
    types = shapely.get_type_id(geoms)
    fits = types == {"Point": 0, "LineString": 1, "Polygon": 3, "MultiPoint": 4, "MultiLineString": 5, "MultiPolygon": 6}[target]
    for i in np.flatnonzero(~shapely.is_missing(geoms) & ~fits):
        geoms[i], reasons[i] = _fit(geoms[i], target)
    return geoms, reasons, repaired
