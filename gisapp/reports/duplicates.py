"""Possible duplicates: the same category within a radius and a number of days of
an open report. New reports are flagged and linked; a handler merges or dismisses.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import shapely

from ..storage import Store
from .assign import to_metric
from .common import metres_to_degrees, parse_stamp, stamp

REPORTS = "reports"
CANDIDATE_COLUMNS = ["code", "category", "reported_at", "duplicate_of", "duplicate_state"]


def open_reports(store: Store, bbox, since: dt.datetime, until: dt.datetime, category=None) -> pd.DataFrame:
    """Open reports in a box reported in [since, until] (merged duplicates are closed)."""
    where = {"status": {"!=": "closed"}, "reported_at": {">=": stamp(since), "<=": stamp(until)}}
    if category is not None:
        where["category"] = category
    return store.read(REPORTS, where=where, bbox=bbox, columns=CANDIDATE_COLUMNS)


def _ranked(cands: pd.DataFrame, distance: np.ndarray, radius_m: float) -> pd.DataFrame:
    """Candidates within the radius, originals (not themselves suspected duplicates) first, then nearest."""
    cands = cands.assign(distance_m=distance)
    cands = cands[cands["distance_m"] <= radius_m]
    suspected = cands["duplicate_state"].eq("suspected").fillna(False).to_numpy(bool)
    return cands.assign(_s=suspected).sort_values(["_s", "distance_m", "reported_at"])


def find_duplicate(store: Store, category: str, lon: float, lat: float, when: dt.datetime,
                   radius_m: float = 30, days: float = 7, exclude: str | None = None) -> dict | None:
    """The open report this one may repeat: {'code', 'distance_m'}, or None."""
    dlon, dlat = metres_to_degrees(radius_m * 1.2, lat)
    cands = open_reports(store, (lon - dlon, lat - dlat, lon + dlon, lat + dlat),
                         when - dt.timedelta(days=days), when, category)
    if exclude:
        cands = cands[cands["code"] != exclude]
    if cands.empty:
        return None
    x, y = to_metric(cands.geometry.x.to_numpy(), cands.geometry.y.to_numpy())
    px, py = to_metric(lon, lat)
    ranked = _ranked(cands, np.hypot(x - px, y - py), radius_m)
    if ranked.empty:
        return None
    best = ranked.iloc[0]
    root = best["code"] if not (best["duplicate_state"] == "suspected" and best["duplicate_of"]) else best["duplicate_of"]
    return {"code": str(root), "distance_m": round(float(best["distance_m"]), 1)}


def flag_batch(store: Store, batch: pd.DataFrame, x: np.ndarray, y: np.ndarray,
               radius_m: float = 30, days: float = 7) -> np.ndarray:
    """duplicate_of for each row of an import batch (columns code, category, reported_at;
    metric x, y): an open stored report or an earlier row of the batch, else None."""
    n = len(batch)
    out = np.full(n, None, dtype=object)
    if n == 0:
        return out
    times = pd.to_datetime(batch["reported_at"], utc=True).to_numpy()
    lon, lat = batch.geometry.x.to_numpy(), batch.geometry.y.to_numpy()
    dlon, dlat = metres_to_degrees(radius_m * 1.2, float(np.nanmean(lat)))
    stored = open_reports(store, (lon.min() - dlon, lat.min() - dlat, lon.max() + dlon, lat.max() + dlat),
                          parse_stamp(str(times.min())) - dt.timedelta(days=days), parse_stamp(str(times.max())))
    sx, sy = to_metric(stored.geometry.x.to_numpy(), stored.geometry.y.to_numpy()) if len(stored) else ([], [])
    codes = np.concatenate([stored["code"].astype(str).to_numpy(), batch["code"].astype(str).to_numpy()])
    cats = np.concatenate([stored["category"].astype(str).to_numpy(), batch["category"].astype(str).to_numpy()])
    when = np.concatenate([pd.to_datetime(stored["reported_at"], utc=True).to_numpy(), times])
    order = np.concatenate([np.full(len(stored), -1), np.arange(n)])  # stored reports come first
    pts = shapely.points(np.concatenate([sx, x]), np.concatenate([sy, y]))
    i, j = shapely.STRtree(pts).query(pts[len(stored):], predicate="dwithin", distance=radius_m)
    i_all = i + len(stored)
    window = np.timedelta64(int(days * 86400), "s")
    ok = (cats[j] == cats[i_all]) & (when[j] <= when[i_all]) & (when[i_all] - when[j] <= window)
    ok &= (order[j] < order[i_all]) | (when[j] < when[i_all])
    ok &= j != i_all
    i, j = i[ok], j[ok]
    if len(i):
        d = shapely.distance(pts[i + len(stored)], pts[j])
        sort = np.lexsort((d, i))
        i, j = i[sort], j[sort]
        first = np.unique(i, return_index=True)[1]
        out[i[first]] = codes[j[first]]
    return out
