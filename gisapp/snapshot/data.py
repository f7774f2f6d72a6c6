"""Reading the store once per (data version, as-of date) and picking what lies in an area.

:func:`load_data` reads every layer and the progress records up to the as-of date; an atlas
reuses one :class:`SnapshotData` for all its pages. Reports (a county may hold millions) are read
per area when it is selected: a community's by its code, another area's by its bounding box. :func:`select`
assigns features, reports and table rows to an :class:`~gisapp.snapshot.areas.Area`:

- a community: by the ``community_code`` of features, reports, activity-log rows and support units
  (the community's own feature for the ``communities`` layer);
- the subdistrict: everything;
- any other area: spatial intersection with the area's geometry (points inside or on the edge;
  lines and polygons sharing more than a boundary). Activity-log rows and support units carry no
  position, so they are not located in such areas.
"""
from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..progress import feature_state, latest
from ..registry import Registry
from ..vocab import QUANTITIES
from .areas import Area

UNDATED_TABLES = ("support_units",)


@dataclass
class SnapshotData:
    registry: Registry
    as_of: dt.date
    data_version: int
    store_url: str
    layers: dict[str, gpd.GeoDataFrame]  # progress layers joined with their state as of ``as_of``
    tables: dict[str, pd.DataFrame]  # activity_log (logged by ``as_of``), support_units
    store: object = field(default=None, repr=False)  # where reports are read from, per area
    _projected: dict = field(default_factory=dict, repr=False)
    memo: dict = field(default_factory=dict, repr=False)  # values derived from this data (see document.py)

    def reports(self, where: dict | None = None, bbox=None) -> gpd.GeoDataFrame:
        """Reports reported by ``as_of`` (and matching ``where``/``bbox``) with their state then:
        ``state``, ``open``, ``days_open`` added. Read once per query."""
        key = ("reports", repr(sorted((where or {}).items())), bbox)
        if key not in self.memo:
            cond = {**(where or {}), "reported_at": {"<=": end_of_day(self.as_of)}}
            rows = self.store.read("reports", where=cond, bbox=bbox, order_by="reported_at")
            self.memo[key] = report_states(rows, self.as_of)
        return self.memo[key]

    def report_total(self, where: dict, measure: str, column: str | None = None) -> float:
        """A count (or a column's sum) over every report reported by ``as_of``, in the store."""
        cond = {**where, "reported_at": {"<=": end_of_day(self.as_of)}}
        if measure == "count":
            return float(self.store.count("reports", where=cond))
        values = self.store.read("reports", where=cond, columns=[column], geometry=False)[column]
        return float(values.fillna(0).sum())

    @property
    def communities(self) -> dict[str, str]:
        gdf = self.layers.get("communities")
        if gdf is None or gdf.empty:
            return {}
        return dict(zip(gdf["code"].astype(str), gdf["name"].astype(str)))

    def projected(self, name: str, crs: str) -> gpd.GeoDataFrame:
        """A layer in a metric CRS, cached."""
        key = (name, crs)
        if key not in self._projected:
            gdf = self.layers[name]
            self._projected[key] = gdf.to_crs(crs) if len(gdf) else gdf.set_crs("EPSG:4326", allow_override=True).to_crs(crs)
        return self._projected[key]


def end_of_day(day: dt.date) -> str:
    return f"{day.isoformat()}T23:59:59Z"


def report_states(reports: gpd.GeoDataFrame, as_of: dt.date) -> gpd.GeoDataFrame:
    """Reports with their state on ``as_of``: closed if closed by then, ``open_then`` if closed later,
    else the stored state (the store keeps no state history)."""
    cutoff = end_of_day(as_of)
    closed_at = reports["closed_at"].astype(object).where(reports["closed_at"].notna(), None)
    closed_by_then = np.array([c is not None and str(c) <= cutoff for c in closed_at], dtype=bool)
    stored = reports["status"].astype(str).to_numpy()
    state = np.where(closed_by_then, "closed", np.where(stored == "closed", "open_then", stored))
    reported = pd.to_datetime(reports["reported_at"].astype(str).str[:10], errors="coerce")
    days = (pd.Timestamp(as_of) - reported).dt.days.fillna(0).astype(int).to_numpy()
    return reports.assign(state=state, open=state != "closed", days_open=days)


def _records(store, as_of: dt.date) -> pd.DataFrame:
    """Each feature's latest progress record up to ``as_of`` (the columns states need)."""
    columns = ["layer", "feature_code", "record_date", "status", "percent", *QUANTITIES]
    records = store.read("progress", where={"record_date": {"<=": as_of.isoformat()}}, columns=columns)
    return latest(records).reset_index()  # one sort for all layers instead of one per layer


def load_data(store, as_of: dt.date | None = None) -> SnapshotData:
    """Everything a snapshot or an atlas needs, read once."""
    as_of = as_of or dt.date.today()
    version = store.data_version()  # before reading: a write meanwhile only makes the next call reload
    registry = store.registry
    records = _records(store, as_of)
    layers = {}
    for layer in registry:
        gdf = store.read(layer.id)
        if layer.progress:
            gdf = feature_state(gdf, records, layer.id, layer.link_field, quantities=layer.quantity_keys)
        layers[layer.id] = gdf
    tables = {"activity_log": store.read("activity_log", where={"log_date": {"<=": as_of.isoformat()}}),
              "support_units": store.read("support_units")}
    return SnapshotData(registry, as_of, version, store.url, layers, tables, store)


class DataCache:
    """The last few :class:`SnapshotData`, keyed on the store, its data version and the as-of date."""

    def __init__(self, size: int = 4):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, store, as_of: dt.date | None = None) -> SnapshotData:
        as_of = as_of or dt.date.today()
        key = (store.url, store.data_version(), as_of)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            data = load_data(store, as_of)
            self._items[key] = data
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return data


@dataclass
class Selection:
    """What lies in an area: features per layer, reports, and table rows (None: not located)."""

    area: Area
    layers: dict[str, gpd.GeoDataFrame]
    reports: gpd.GeoDataFrame
    tables: dict[str, pd.DataFrame | None]
    work_layers: frozenset = frozenset()

    @property
    def empty(self) -> bool:
        """Nothing to report: no works and no problems in the area."""
        works = any(len(gdf) for lid, gdf in self.layers.items() if lid in self.work_layers)
        return not works and self.reports.empty


def spatial_mask(gdf: gpd.GeoDataFrame, geom) -> np.ndarray:
    """Rows of ``gdf`` in ``geom``: points inside or on the edge, others sharing more than a boundary."""
    mask = np.zeros(len(gdf), dtype=bool)
    if gdf.empty or geom is None or geom.is_empty:
        return mask
    hits = gdf.sindex.query(geom, predicate="intersects")
    if len(hits):
        geoms = gdf.geometry.values[hits]
        points = shapely.get_type_id(geoms) == 0
        keep = points | ~shapely.touches(geoms, geom)
        mask[hits[keep]] = True
    return mask


def by_code(data: SnapshotData, name: str, df: pd.DataFrame, column: str, code: str) -> pd.DataFrame:
    """The rows of ``df`` whose ``column`` is ``code``; the grouping is made once per data (atlases)."""
    key = ("groups", name, column)
    if key not in data.memo:
        data.memo[key] = df.groupby(df[column].astype(str)).indices if len(df) else {}
    return df.iloc[data.memo[key].get(code, [])]


def select(data: SnapshotData, area: Area, reports: bool = True) -> Selection:
    """Assign features, reports and table rows to ``area`` (see the module's docstring);
    ``reports=False`` leaves the reports out (an empty frame)."""
    works = frozenset(layer.id for layer in data.registry if layer.kind == "work")
    if area.kind == "subdistrict":
        return Selection(area, dict(data.layers), data.reports() if reports else data.reports({"code": []}),
                         dict(data.tables), works)
    shapely.prepare(area.geometry)
    layers = {}
    for layer in data.registry:
        gdf = data.layers[layer.id]
        if area.kind == "community" and layer.community_field:
            layers[layer.id] = by_code(data, layer.id, gdf, layer.community_field, area.key)
        elif area.kind == "community" and layer.id == area.layer:
            layers[layer.id] = by_code(data, layer.id, gdf, layer.link_field, area.key)
        else:
            layers[layer.id] = gdf[spatial_mask(gdf, area.geometry)]
    if area.kind == "community":
        reports = data.reports({"community_code": area.key})
        tables = {name: by_code(data, name, df, "community_code", area.key) for name, df in data.tables.items()}
    else:
        located = area.geometry is not None and not area.geometry.is_empty
        near = data.reports(bbox=tuple(area.geometry.bounds)) if located else data.reports({"code": []})
        reports = near[spatial_mask(near, area.geometry)]
        tables = {name: None for name in data.tables}
    return Selection(area, layers, reports, tables, works)
