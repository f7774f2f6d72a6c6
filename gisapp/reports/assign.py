"""Automatic assignment of report positions, vectorised for bulk imports.

Each point gets its community and grid cell (point in polygon), its nearest back
lane within a distance (and the other lanes about as near), and the compound or
market it lies in. Distances are computed in CGCS2000 / 3-degree Gauss-Krüger
CM 105E (EPSG:4544), the survey CRS of Fushun. One STRtree per layer; a million
points take a few seconds (benchmarks/bench_assign.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from ..storage import Store

METRIC_CRS = "EPSG:4544"
POLYGON_LAYERS = {"community_code": "communities", "grid_code": "grid_cells", "compound_code": "compounds",
                  "market_code": "markets"}
LANES = "back_lanes"
AREA = "subdistrict"
COLUMNS = ["inside", "community_code", "grid_code", "lane_code", "lane_alternatives", "lane_distance_m",
           "compound_code", "market_code"]


@lru_cache(maxsize=4)
def _transformer(inverse: bool = False) -> Transformer:
    src, dst = ("EPSG:4326", METRIC_CRS) if not inverse else (METRIC_CRS, "EPSG:4326")
    return Transformer.from_crs(src, dst, always_xy=True)


def to_metric(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    x, y = _transformer().transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x), np.asarray(y)


def geoms_to_metric(geoms) -> np.ndarray:
    return shapely.transform(np.asarray(geoms, dtype=object), lambda xy: np.column_stack(to_metric(xy[:, 0], xy[:, 1])))


@dataclass
class Index:
    """Codes and metric geometries of one layer (prepared) with their STRtree."""

    codes: np.ndarray
    geoms: np.ndarray
    tree: shapely.STRtree

    @classmethod
    def build(cls, codes, geoms) -> "Index":
        geoms = geoms_to_metric(geoms)
        shapely.prepare(geoms)
        return cls(np.asarray(codes, dtype=object), geoms, shapely.STRtree(geoms))


class PointSet:
    """Points bucketed on a regular grid: the points near a box come out without
    building a geometry per point (a million shapely points cost more than the join)."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x, self.y = x, y
        n = len(x)
        self.cells = int(np.clip(np.sqrt(n / 64), 1, 512))  # ~64 points a cell
        self.minx, self.miny = (float(x.min()), float(y.min())) if n else (0.0, 0.0)
        span = max(float(x.max()) - self.minx, float(y.max()) - self.miny, 1.0) if n else 1.0
        self.size = span / self.cells * (1 + 1e-9)
        cid = self._cell(y, self.miny) * self.cells + self._cell(x, self.minx)
        self.order = np.argsort(cid, kind="stable")
        self.starts = np.searchsorted(cid[self.order], np.arange(self.cells * self.cells + 1))
        self.full = np.flatnonzero(np.diff(self.starts))  # the cells holding points
        gx = self.minx + (self.full % self.cells) * self.size
        gy = self.miny + (self.full // self.cells) * self.size
        self.boxes = shapely.box(gx, gy, gx + self.size, gy + self.size)

    def _cell(self, v, origin):
        return np.clip(((np.asarray(v) - origin) // self.size).astype(np.int64), 0, self.cells - 1)

    def in_cells(self, cells: np.ndarray) -> np.ndarray:
        """Indices of the points in the given cells."""
        parts = [self.order[self.starts[c]:self.starts[c + 1]] for c in cells]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


@dataclass
class Areas:
    """What assignment needs, read once from the store."""

    polygons: dict[str, Index]  # output column -> index
    lanes: Index | None
    area: object | None  # the subdistrict buffered by the margin (metric), None when unknown
    area_name: str
    lane_distance_m: float
    lane_tie_m: float
    margin_m: float


def _index(store: Store, layer_id: str) -> Index | None:
    if layer_id not in store.registry:
        return None
    layer = store.registry.get(layer_id)
    gdf = store.read(layer_id, columns=[layer.link_field or "code"])
    gdf = gdf[gdf.geometry.notna()]
    return Index.build(gdf[layer.link_field or "code"].astype(str).to_numpy(), gdf.geometry.values) if len(gdf) else None


def load_areas(store: Store, lane_distance_m: float = 30, lane_tie_m: float = 5, margin_m: float = 200) -> Areas:
    polygons = {col: idx for col, layer in POLYGON_LAYERS.items() if (idx := _index(store, layer)) is not None}
    area, name = None, ""
    if AREA in store.registry:
        sub = store.read(AREA)
        if len(sub):
            area = shapely.buffer(shapely.union_all(geoms_to_metric(sub.geometry.values)), margin_m)
            shapely.prepare(area)
            name = str(sub.iloc[0].get("name") or "")
    return Areas(polygons, _index(store, LANES), area, name, lane_distance_m, lane_tie_m, margin_m)


def _pairs(tree: shapely.STRtree, points: PointSet, **query) -> tuple[np.ndarray, np.ndarray]:
    """(cell, feature) pairs for the non-empty cells of the point grid."""
    cell, feature = tree.query(points.boxes, **query)
    return points.full[cell], feature


def _by_feature(cells: np.ndarray, features: np.ndarray):
    order = np.argsort(features, kind="stable")
    features, cells = features[order], cells[order]
    bounds = np.flatnonzero(np.diff(features)) + 1
    return zip(features[np.r_[0, bounds]] if len(features) else [], np.split(cells, bounds) if len(cells) else [])


def _first_hit(index: Index, points: PointSet) -> np.ndarray:
    """The code of the polygon covering each point (the first one when they overlap), else None."""
    found = np.full(len(points.x), -1, dtype=np.int64)
    cells, polys = _pairs(index.tree, points, predicate="intersects")
    for poly, poly_cells in _by_feature(cells, polys):
        idx = points.in_cells(poly_cells)
        idx = idx[found[idx] < 0]
        found[idx[shapely.intersects_xy(index.geoms[poly], points.x[idx], points.y[idx])]] = poly
    return _codes(found, index.codes)


def _codes(found: np.ndarray, codes: np.ndarray) -> pd.Series:
    """Codes by index (-1: None), kept as objects: letting pandas infer a string column from a
    million values would cost more than the join."""
    return pd.Series(np.append(codes, None).astype(object)[found], dtype=object)


def _lane_pairs(areas: Areas, points: PointSet):
    """(point, lane, distance) for every lane within the distance of a point."""
    cells, lanes = _pairs(areas.lanes.tree, points, predicate="dwithin", distance=areas.lane_distance_m)
    pts, lns, dist = [], [], []
    for lane, lane_cells in _by_feature(cells, lanes):
        idx = points.in_cells(lane_cells)
        d = shapely.distance(areas.lanes.geoms[lane], shapely.points(points.x[idx], points.y[idx]))
        keep = d <= areas.lane_distance_m
        pts.append(idx[keep]), lns.append(np.full(keep.sum(), lane)), dist.append(d[keep])
    if not pts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(pts), np.concatenate(lns), np.concatenate(dist)


def _lanes(areas: Areas, points: PointSet):
    """Nearest lane within the distance, its distance, and other lanes within the tie margin."""
    n = len(points.x)
    found = np.full(n, -1, dtype=np.int64)
    alternatives = pd.Series(np.full(n, None, dtype=object), dtype=object)
    distance = np.full(n, np.nan)
    if areas.lanes is None or n == 0:
        return _codes(found, np.empty(0, dtype=object)), alternatives, distance
    pt, lane, d = _lane_pairs(areas, points)
    if not len(pt):
        return _codes(found, areas.lanes.codes), alternatives, distance
    order = np.lexsort((d, pt))
    pt, lane, d = pt[order], lane[order], d[order]
    first = np.unique(pt, return_index=True)[1]
    found[pt[first]] = lane[first]
    distance[pt[first]] = d[first]
    near = d - distance[pt] <= areas.lane_tie_m
    near[first] = False
    for i in np.unique(pt[near]):  # few points lie about as near to two lanes
        alternatives.iat[i] = ",".join(dict.fromkeys(areas.lanes.codes[lane[near & (pt == i)]]))
    return _codes(found, areas.lanes.codes), alternatives, distance


def inside_area(areas: Areas, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if areas.area is None:
        return np.ones(len(x), dtype=bool)
    return shapely.contains_xy(areas.area, x, y)


def assign(areas: Areas, lon, lat) -> pd.DataFrame:
    """One row per point: inside (the subdistrict plus margin) and the assigned codes."""
    x, y = to_metric(lon, lat)
    points = PointSet(x, y)
    out = {"inside": inside_area(areas, x, y)}
    for col in ("community_code", "grid_code", "compound_code", "market_code"):
        index = areas.polygons.get(col)
        out[col] = _first_hit(index, points) if index is not None else _codes(np.full(len(x), -1), np.empty(0))
    out["lane_code"], out["lane_alternatives"], out["lane_distance_m"] = _lanes(areas, points)
    out["lane_distance_m"] = np.round(out["lane_distance_m"], 1)
    return pd.DataFrame(out, columns=COLUMNS)


def assign_one(areas: Areas, lon: float, lat: float) -> dict:
    row = assign(areas, [lon], [lat]).iloc[0].to_dict()
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
