"""GeoJSON (RFC 7946) from GeoDataFrames, built fast.

Building Python dicts is the slow part of GeoJSON output, so geometries are
written by GEOS in one vectorised call (``shapely.to_geojson``) and embedded
as pre-serialised ``orjson.Fragment`` objects; properties are converted column
by column, not cell by cell through pandas.

RFC 7946: WGS84 longitude/latitude (the store's CRS), polygons oriented by
the right-hand rule (exterior rings counter-clockwise), coordinates rounded
to 7 decimals (about 1 cm).
"""
from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import shapely

DECIMALS = 7
GEOJSON = "application/geo+json"


def rfc7946(geoms, decimals: int = DECIMALS) -> np.ndarray:
    """Geometries oriented by the right-hand rule with rounded coordinates."""
    geoms = shapely.orient_polygons(np.asarray(geoms, dtype=object), exterior_cw=False)
    return shapely.transform(geoms, lambda xy: np.round(xy, decimals))


_CONVERT = {"integer": int, "real": float, "boolean": bool}


def column_values(series: pd.Series, type_: str) -> list:
    """Plain JSON-ready values of one column: None for missing, ints for integer fields."""
    values = series.tolist()
    missing = series.isna().to_numpy()
    conv = _CONVERT.get(type_)
    if conv is None and not missing.any():
        return values
    return [None if m else (conv(v) if conv else v) for v, m in zip(values, missing)]


def properties(frame: pd.DataFrame, types: dict[str, str]) -> list[dict]:
    """One properties dict per row, keys in the order of ``types`` (name -> field type)."""
    names = [n for n in types if n in frame.columns]
    columns = [column_values(frame[n], types[n]) for n in names]
    if not names:
        return [{} for _ in range(len(frame))]
    return [dict(zip(names, row)) for row in zip(*columns)]


def geometries(frame: pd.DataFrame) -> list:
    """``orjson.Fragment`` GeoJSON geometries (None where a feature has none)."""
    texts = shapely.to_geojson(rfc7946(frame.geometry.array))
    return [None if t is None else orjson.Fragment(t) for t in texts.tolist()]


def features(frame: pd.DataFrame, types: dict[str, str], with_geometry: bool = True) -> list[dict]:
    """GeoJSON Feature objects; ``id`` is the frame index (fid)."""
    ids = [int(i) for i in frame.index]
    props = properties(frame, types)
    geoms = geometries(frame) if with_geometry else [None] * len(ids)
    return [{"type": "Feature", "id": i, "geometry": g, "properties": p} for i, g, p in zip(ids, geoms, props)]


def dumps(obj) -> bytes:
    return orjson.dumps(obj)
