"""Mapping the columns of an imported file onto report fields: found by name
(Chinese or English) or given by the user; categories matched by key or label."""
from __future__ import annotations

import datetime as dt
import re

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import ValidationFailed
from ..storage import Store
from ..vocab import CATEGORIES
from .common import BEIJING, existing_values, fail, stamp

CANDIDATES = {
    "code": ("code", "编号", "问题编号", "service_request_id"),
    "category": ("category", "类别", "问题类别", "问题类型", "类型", "type", "service_code"),
    "description": ("description", "描述", "问题描述", "desc", "内容", "note", "备注", "name", "名称"),
    "reported_at": ("reported_at", "上报时间", "发现时间", "时间", "日期", "date", "time", "datetime",
                    "requested_datetime"),
    "reporter": ("reporter", "上报人", "发现人"),
}


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-()（）]", "", str(text)).lower()


def find_columns(columns, mapping: dict | None) -> dict:
    """target field -> source column: the user's mapping first, then known names."""
    mapping = {k: v for k, v in (mapping or {}).items() if v}
    unknown = [k for k in mapping if k not in CANDIDATES]
    missing = [v for v in mapping.values() if v not in columns]
    if unknown or missing:
        bad = (unknown or missing)[0]
        fail(ValidationFailed, f"字段对应无效：{bad[:40]}", f"invalid field mapping: {bad[:40]}")
    normal = {_norm(c): c for c in columns}
    out = dict(mapping)
    for target, names in CANDIDATES.items():
        if target not in out:
            found = next((normal[_norm(n)] for n in names if _norm(n) in normal and normal[_norm(n)] not in out.values()), None)
            if found:
                out[target] = found
    return out


def _category_lookup() -> dict:
    table = {}
    for key, labels in CATEGORIES.items():
        for text in (key, labels["zh"], labels["en"], *labels["zh"].split("/")):
            table[_norm(text)] = key
    return table


def match_categories(values: pd.Series) -> tuple[np.ndarray, dict]:
    """Category keys for the values ('other' when nothing matches) and the unmatched values with counts."""
    table = _category_lookup()
    out, unmatched = [], {}
    for value in values.astype(str):
        key = table.get(_norm(value)) or next((k for t, k in table.items() if len(t) > 1 and (t in _norm(value))), None)
        if key is None:
            unmatched[value] = unmatched.get(value, 0) + 1
        out.append(key or "other")
    return np.array(out, dtype=object), unmatched


def local_to_utc(values: pd.Series, when: dt.datetime) -> pd.Series:
    """Times from a file (naive ones are Beijing time) as stored UTC stamps; missing or bad: `when`."""
    parsed = pd.to_datetime(values.astype(str).where(values.notna() & (values.astype(str) != ""), None),
                            errors="coerce", format="mixed", utc=False)
    if getattr(parsed.dt, "tz", None) is None:
        parsed = parsed.dt.tz_localize(BEIJING, ambiguous="NaT", nonexistent="NaT")
    out = parsed.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out.where(out.notna(), stamp(when))


def _codes(store: Store, gdf: gpd.GeoDataFrame, column: str | None, when: dt.datetime) -> tuple[np.ndarray, str]:
    """The file's codes when they are all present, unique and new; else generated ones."""
    if column:
        codes = gdf[column].astype(str).str.strip()
        if (codes != "").all() and codes.is_unique and not existing_values(store, "reports", "code", codes):
            return codes.to_numpy(dtype=object), "file"
    prefix = f"DR{when.astimezone(BEIJING):%Y%m%d%H%M%S}"
    return np.array([f"{prefix}{i:06d}" for i in range(1, len(gdf) + 1)], dtype=object), "generated"


def map_report_fields(store: Store, gdf: gpd.GeoDataFrame, mapping: dict | None, when: dt.datetime):
    """Report rows (code, category, description, reported_at, reporter, geometry) and what was mapped."""
    found = find_columns([c for c in gdf.columns if c != gdf.geometry.name], mapping)
    n = len(gdf)
    codes, code_source = _codes(store, gdf, found.get("code"), when)
    if "category" in found:
        categories, unmatched = match_categories(gdf[found["category"]])
    else:
        categories, unmatched = np.full(n, "other", dtype=object), {}
    rows = gpd.GeoDataFrame({
        "code": codes, "category": categories,
        "description": gdf[found["description"]].astype(str).str.slice(0, 2000).to_numpy(dtype=object)
        if "description" in found else np.full(n, None, dtype=object),
        "reported_at": local_to_utc(gdf[found["reported_at"]], when).to_numpy(dtype=object)
        if "reported_at" in found else np.full(n, stamp(when), dtype=object),
        "reporter": gdf[found["reporter"]].astype(str).to_numpy(dtype=object) if "reporter" in found else None,
    }, geometry=gdf.geometry.values, crs=4326)
    ignored = [c for c in gdf.columns if c != gdf.geometry.name and c not in found.values()]
    return rows, {"fields_mapped": found, "ignored_columns": ignored, "categories_unmatched": unmatched,
                  "codes": code_source}
