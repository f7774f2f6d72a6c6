"""Bulk import of GIS files as field reports or into a layer: a dry run first
(what was read, repaired, refused, outside the area, how fields map, the
encoding and CRS found), then one transaction.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import ValidationFailed
from ..gisio import to_layer
from ..storage import Store
from ..vocab import REPORT_SOURCES
from . import Settings
from .assign import assign, geoms_to_metric, load_areas, to_metric
from .common import existing_values, fail, now as utc_now, stamp
from .duplicates import flag_batch
from .geomcheck import clean_geometries
from .readers import Info, Limits, Options, read_source
from .reportfields import map_report_fields

REPORTS = "reports"
PREVIEW_MAX = 2000
REFUSED_LISTED = 50


@dataclass
class Plan:
    target: str
    rows: gpd.GeoDataFrame  # what the import will insert
    report: dict  # the dry-run report (JSON-able)
    preview: dict  # GeoJSON of (up to PREVIEW_MAX) features with their fate
    events: pd.DataFrame | None = None


def limits_of(settings: Settings) -> Limits:
    return Limits(int(settings.import_max_uncompressed_mb * (1 << 20)), settings.import_max_ratio,
                  settings.import_max_entries)


def _geometry_family(store: Store, target: str) -> str:
    return "Point" if target == REPORTS else store.registry.get(target).geometry


def plan_import(store: Store, path: str | Path, target: str, settings: Settings, options: Options | None = None,
                mapping: dict | None = None, source: str = "inspection", actor: str = "import",
                when: dt.datetime | None = None) -> Plan:
    """Read, check and prepare a file for import; nothing is written."""
    if target != REPORTS and target not in store.registry:
        fail(ValidationFailed, f"没有图层 {target[:40]}", f"no layer {target[:40]}")
    if source not in REPORT_SOURCES:
        fail(ValidationFailed, f"未知的来源 {source[:20]}", f"unknown source {source[:20]}")
    when = when or utc_now()
    gdf, info = read_source(path, options, limits_of(settings))
    gdf = gdf.reset_index(drop=True)
    types = Counter(t or "none" for t in gdf.geom_type.fillna("none"))
    geoms, reasons, repaired = clean_geometries(gdf.geometry.values, _geometry_family(store, target))
    areas = load_areas(store, settings.lane_distance_m, settings.lane_tie_m, settings.area_margin_m)
    inside = _inside(areas, geoms)
    fate = np.where(reasons != None, "refused", np.where(inside, "ok", "outside"))  # noqa: E711
    gdf = gdf.set_geometry(list(geoms), crs=4326)
    report = _report(info, target, types, repaired, reasons, fate, areas)
    keep = fate == "ok" if target == REPORTS else fate != "refused"
    if target == REPORTS:
        rows, events, extra = _report_rows(store, gdf[keep], settings, mapping, source, actor, when, areas, info)
    else:
        rows, events, extra = _layer_rows(store, target, gdf[keep])
    report.update(extra, importable=len(rows))
    return Plan(target, rows, report, _preview(gdf, fate), events)


def _inside(areas, geoms: np.ndarray) -> np.ndarray:
    if areas.area is None or not len(geoms):
        return np.ones(len(geoms), dtype=bool)
    ok = np.array([g is not None for g in geoms])
    out = np.zeros(len(geoms), dtype=bool)
    out[ok] = shapely.intersects(areas.area, geoms_to_metric(geoms[ok]))
    return out


def _report(info: Info, target: str, types: Counter, repaired: int, reasons: np.ndarray, fate: np.ndarray, areas) -> dict:
    refused = [{"row": int(i) + 1, **reasons[i]} for i in np.flatnonzero(fate == "refused")[:REFUSED_LISTED]]
    return {**info.__dict__, "target": target, "geometry_types": dict(types), "repaired": int(repaired),
            "refused": int((fate == "refused").sum()), "refused_rows": refused, "outside": int((fate == "outside").sum()),
            "outside_action": "refused" if target == REPORTS else "kept", "area": areas.area_name or None,
            "area_margin_m": areas.margin_m}


def _report_rows(store: Store, gdf: gpd.GeoDataFrame, settings: Settings, mapping, source, actor, when, areas, info):
    rows, extra = map_report_fields(store, gdf, mapping, when)
    lon, lat = rows.geometry.x.to_numpy(), rows.geometry.y.to_numpy()
    assigned = assign(areas, lon, lat).drop(columns="inside")
    for col in assigned.columns:
        rows[col] = assigned[col].to_numpy()
    x, y = to_metric(lon, lat)
    rows["duplicate_of"] = flag_batch(store, rows, x, y, settings.duplicate_radius_m, settings.duplicate_days)
    rows["duplicate_state"] = np.where(pd.notna(rows["duplicate_of"]), "suspected", None)
    due = pd.to_datetime(rows["reported_at"], utc=True) + pd.Timedelta(days=settings.due_days)
    rows = rows.assign(status="reported", source=source, position_source="import", updated_at=stamp(when),
                       due_at=due.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy())
    note = f"import {info.file}"
    events = pd.DataFrame({"report_code": rows["code"].to_numpy(), "at": stamp(when), "actor": actor, "action": "report",
                           "from_status": None, "to_status": "reported", "target": None, "note": note})
    dups = rows[pd.notna(rows["duplicate_of"])]
    flagged = pd.DataFrame({"report_code": dups["code"].to_numpy(), "at": stamp(when), "actor": actor,
                            "action": "flag_duplicate", "from_status": "reported", "to_status": "reported",
                            "target": dups["duplicate_of"].to_numpy(), "note": None})
    extra.update(duplicates=len(dups), by_community=_counts(rows["community_code"]))
    return rows, pd.concat([events, flagged], ignore_index=True), extra


def _counts(values: pd.Series) -> dict:
    return {str(k): int(v) for k, v in values.fillna("—").value_counts().items()}


def _layer_rows(store: Store, target: str, gdf: gpd.GeoDataFrame):
    layer = store.registry.get(target)
    rows, ignored = to_layer(layer, gdf)
    link = layer.link_field
    extra = {"fields_mapped": {c: c for c in rows.columns if c != "geometry"}, "ignored_columns": ignored}
    if link and len(rows):
        clash = rows[link].astype(str).isin(existing_values(store, target, link, rows[link]))
        repeated = rows[link].astype(str).duplicated(keep="first")
        extra.update(existing_codes=int(clash.sum()), repeated_codes=int(repeated.sum()))
        rows = rows[~clash & ~repeated]
    return rows, None, extra


def _preview(gdf: gpd.GeoDataFrame, fate: np.ndarray) -> dict:
    features = []
    for i in np.flatnonzero(gdf.geometry.notna().to_numpy())[:PREVIEW_MAX]:
        geom = shapely.set_precision(gdf.geometry.iloc[i], 1e-7)
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom),
                         "properties": {"row": int(i) + 1, "fate": str(fate[i])}})
    return {"type": "FeatureCollection", "features": features, "truncated": int(gdf.geometry.notna().sum()) > PREVIEW_MAX}


def run_import(store: Store, plan: Plan, actor: str, remote_addr: str | None = None,
               progress: Callable[[int], None] | None = None, chunk: int = 5000) -> dict:
    """Insert the planned rows in one transaction (in chunks, reporting progress)."""
    if plan.rows.empty:
        fail(ValidationFailed, "没有可导入的要素", "nothing to import")
    name = plan.report.get("file")
    with store.writer(actor, remote_addr) as w:
        for start in range(0, len(plan.rows), chunk):
            part = plan.rows.iloc[start:start + chunk]
            w.insert(plan.target, part, summary=f"import {name} ({start + 1}-{start + len(part)})")
            if progress:
                progress(len(part))
        if plan.events is not None and len(plan.events):
            for start in range(0, len(plan.events), chunk * 4):
                w.insert("report_events", plan.events.iloc[start:start + chunk * 4], summary=f"import {name}: events")
    return {"target": plan.target, "inserted": len(plan.rows), "file": name}

