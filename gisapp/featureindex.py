"""An in-memory index of a collection's features for fast item pages.

Building pandas frames is most of the cost of a page read through the Store
(about 8 ms for 100 rows), so JSON item pages without ``datetime`` are served
from an index built once per data version through ``Store.read`` (any backend):

- each feature pre-serialised as GeoJSON (an ``orjson.Fragment``), latest
  progress state included, made by the same code as the Store path;
- bounds and geometries for exact bbox tests, in fid order;
- the filterable columns as arrays for equality tests.

A page is then a few numpy comparisons and one ``orjson.dumps``. The index is
rebuilt lazily when the store's data version changes, and kept only for
collections of at most ``max_features`` features; everything else (HTML,
``datetime``, big collections, and the field reports, written all day) uses
:func:`gisapp.query.run`, which pages in the store.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import orjson
import shapely

from .catalog import REPORTS, Collection
from .geojson import features
from .query import Query, run
from .storage import Store

DEFAULT_MAX_FEATURES = 200_000
_MISSING = object()


@dataclass
class Index:
    """One collection's features, in fid order."""

    fids: np.ndarray
    bounds: np.ndarray  # (n, 4) minx, miny, maxx, maxy
    geoms: np.ndarray  # shapely geometries (exact tests for lines and polygons)
    columns: dict[str, np.ndarray]  # filterable columns (object arrays)
    fragments: np.ndarray  # orjson.Fragment per feature
    points: bool
    by_minx: np.ndarray = field(init=False)  # positions sorted by minx ...
    sorted_bounds: np.ndarray = field(init=False)  # ... and their bounds, one contiguous row per edge

    def __post_init__(self):
        self.by_minx = np.argsort(self.bounds[:, 0], kind="stable")
        self.sorted_bounds = np.ascontiguousarray(self.bounds[self.by_minx].T)

    def select(self, q: Query) -> np.ndarray:
        """Positions of the features matching the query's bbox, filters and statuses, in fid order."""
        pos = np.arange(len(self.fids)) if q.bbox is None else self._in_bbox(q.bbox)
        for name, value in q.where.items():
            pos = pos[self.columns[name][pos] == value]
        if q.statuses:
            pos = pos[np.isin(self.columns["status"][pos], list(q.statuses))]
        return pos

    def _in_bbox(self, bbox) -> np.ndarray:
        minx, miny, maxx, maxy = bbox
        if minx > maxx:  # crosses the antimeridian
            both = np.concatenate([self._in_bbox((minx, miny, 180.0, maxy)), self._in_bbox((-180.0, miny, maxx, maxy))])
            return np.unique(both)
        b = self.sorted_bounds
        stop = np.searchsorted(b[0], maxx, side="right")  # a slice of the minx order: minx <= maxx
        start = np.searchsorted(b[0], minx, side="left") if self.points else 0
        b = b[:, start:stop]
        cand = self.by_minx[start:stop][(b[2] >= minx) & (b[1] <= maxy) & (b[3] >= miny)]
        if not self.points and len(cand):
            cand = cand[shapely.intersects(self.geoms[cand], shapely.box(minx, miny, maxx, maxy))]
        return np.sort(cand)

    def page(self, q: Query) -> tuple[list, int]:
        """(feature fragments of the page, number matched)."""
        pos = self.select(q)
        start = min(q.offset, len(pos))
        stop = len(pos) if q.limit is None else min(start + q.limit, len(pos))
        return list(self.fragments[pos[start:stop]]), len(pos)


def servable(q: Query) -> bool:
    """Queries the index answers: no date (the index holds the latest state only)."""
    return q.as_of is None and q.since is None and not q.require_record and \
        all(not isinstance(v, (dict, list)) for v in q.where.values())


def build(store: Store, coll: Collection, include_private: bool) -> Index:
    frame = run(store, coll, Query(), include_private).frame
    types = coll.property_types(include_private)
    feats = features(frame, types)
    fragments = np.empty(len(feats), dtype=object)
    fragments[:] = [orjson.Fragment(orjson.dumps(f)) for f in feats]
    geoms = np.asarray(frame.geometry.array, dtype=object)
    names = [*coll.filterable(include_private)]
    columns = {n: frame[n].astype(object).where(frame[n].notna(), None).to_numpy() for n in names if n in frame}
    bounds = shapely.bounds(geoms) if len(geoms) else np.empty((0, 4))
    return Index(frame.index.to_numpy(), np.nan_to_num(bounds, nan=np.inf), geoms, columns, fragments,
                 coll.geometry == "Point")


class FeatureIndexes:
    """Indexes per (store, data version, collection, view), built on first use."""

    def __init__(self, max_features: int = DEFAULT_MAX_FEATURES):
        self.max_features = max_features
        self._indexes: dict[tuple, Index | None] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, coll: Collection, include_private: bool) -> Index | None:
        if coll.id == REPORTS:  # written all day: every upload would rebuild it; paged in the store
            return None
        version = store.data_version()
        key = (store.url, version, coll.id, include_private)
        found = self._indexes.get(key, _MISSING)  # one dict operation: safe beside a rebuild
        if found is not _MISSING:
            return found
        with self._lock:
            if key not in self._indexes:
                stale = [k for k in self._indexes if k[0] == store.url and k[1] != version]
                for k in stale:
                    del self._indexes[k]
                small = self.max_features > 0 and store.count(coll.id, limit=self.max_features + 1) <= self.max_features
                self._indexes[key] = build(store, coll, include_private) if small else None
            return self._indexes[key]

