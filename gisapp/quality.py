"""Data quality: inconsistencies in the progress records, recomputed from the store.

Each finding names the layer, the feature and what is wrong, in Chinese and English.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from .progress import feature_state
from .registry import LayerDef
from .storage import Store
from .vocab import FINISHED, STATUS_ORDER

SPACE_WIDTH_M = 2.5  # a perpendicular space along a lane, per side
TOLERANCE = 1.05


def _finding(layer: LayerDef, fid, code, name, kind: str, zh: str, en: str) -> dict:
    return {"layer": layer.id, "layer_title": {"zh": layer.title.zh, "en": layer.title.en}, "fid": int(fid),
            "code": code, "name": name, "kind": kind, "message": {"zh": zh, "en": en}}


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(df[name], errors="coerce").fillna(0.0) if name in df else pd.Series(0.0, index=df.index)


def _size_checks(layer: LayerDef, df: pd.DataFrame):
    """(mask, kind, zh(row), en(row)): quantities beyond what the feature itself can hold."""
    keys = layer.quantity_keys
    length, width = _col(df, "length_m"), _col(df, "width_m")
    area, room = length * width, (2 * length / SPACE_WIDTH_M).astype(int)
    budget, total = _col(df, "budget_cny"), _col(df, "households_total")
    checks = []
    if "area_m2" in keys:
        checks.append(((area > 0) & (_col(df, "area_m2") > area * TOLERANCE), "too_large",
                       lambda r: f"修补面积 {r.area_m2:,.0f} 平方米超过街巷面积 {r.length_m * r.width_m:,.0f} 平方米",
                       lambda r: f"surface {r.area_m2:,.0f} m² exceeds the lane's {r.length_m * r.width_m:,.0f} m²"))
    if "spaces" in keys:
        checks.append(((length > 0) & (_col(df, "spaces") > room), "too_large",
                       lambda r: f"停车位 {r.spaces:,.0f} 个超过街巷可容纳的约 {int(2 * r.length_m / SPACE_WIDTH_M)} 个",
                       lambda r: f"{r.spaces:,.0f} spaces, the lane holds about {int(2 * r.length_m / SPACE_WIDTH_M)}"))
    if "funds_cny" in keys:
        checks.append(((budget > 0) & (_col(df, "funds_cny") > budget), "over_budget",
                       lambda r: f"投入资金 {r.funds_cny:,.0f} 元超过预算 {r.budget_cny:,.0f} 元",
                       lambda r: f"funds {r.funds_cny:,.0f} CNY exceed the budget of {r.budget_cny:,.0f} CNY"))
    if "households" in keys:
        checks.append(((total > 0) & (_col(df, "households") > total), "too_large",
                       lambda r: f"惠及户数 {r.households:,.0f} 超过小区总户数 {r.households_total:,.0f}",
                       lambda r: f"{r.households:,.0f} households benefited, the compound has {r.households_total:,.0f}"))
    return checks


def _out_of_order(layer: LayerDef, records: pd.DataFrame) -> pd.DataFrame:
    """Records whose status or cumulative figures go backwards without a reason in the note."""
    df = records.assign(_id=records.index).sort_values(["feature_code", "record_date", "_id"])
    rank = df["status"].map(STATUS_ORDER.index)
    prev = df.groupby("feature_code")
    no_reason = df["note"].fillna("").str.strip() == ""
    back = rank < prev["status"].shift().map(lambda s: STATUS_ORDER.index(s) if isinstance(s, str) else -1)
    for q in layer.quantity_keys:
        back |= _col(df, q) + 1e-9 < prev[q].shift().fillna(0)
    return df[back & no_reason]


def layer_findings(store: Store, layer: LayerDef, today: dt.date, stale_weeks: int) -> list[dict]:
    records = store.progress(layer.id)
    df = feature_state(store.read(layer.id, geometry=False), records, layer.id, layer.link_field,
                       quantities=layer.quantity_keys)
    df = df.assign(_code=df[layer.link_field].astype(str), _name=df[layer.name_field])
    out = []

    def emit(mask, kind, zh, en):
        for fid, row in df[mask].iterrows():
            out.append(_finding(layer, fid, row["_code"], row["_name"], kind, zh(row), en(row)))

    emit(df["status"].isna(), "no_record", lambda r: "没有任何进度记录", lambda r: "no progress record at all")
    finished = df["status"].isin(FINISHED)
    if layer.quantity_keys:
        zero = finished & (_col(df, "percent") >= 100) & (sum(_col(df, q) for q in layer.quantity_keys) == 0)
        emit(zero, "zero_quantity", lambda r: "已完工（100%）但数量为零", lambda r: "finished at 100% with zero quantities")
    for mask, kind, zh, en in _size_checks(layer, df):
        emit(mask, kind, zh, en)
    bad = _out_of_order(layer, records)
    emit(df["_code"].isin(bad["feature_code"]), "out_of_order",
         lambda r: "进度记录前后矛盾（状态倒退或累计数量减少）且未说明原因",
         lambda r: "records contradict each other (status or cumulative figures going backwards) without a reason")
    before = (today - dt.timedelta(weeks=stale_weeks)).isoformat()
    stale = df["status"].notna() & ~finished & (df["status_date"].fillna("9999") < before)
    emit(stale, "stale", lambda r: f"已超过 {stale_weeks} 周没有更新（最后 {r.status_date}）",
         lambda r: f"no update for more than {stale_weeks} weeks (last {r.status_date})")
    return out


def findings(store: Store, today: dt.date | None = None, stale_weeks: int = 4) -> list[dict]:
    """Every inconsistency in every layer that records progress."""
    today = today or dt.date.today()
    return [f for layer in store.registry.with_progress() for f in layer_findings(store, layer, today, stale_weeks)]
