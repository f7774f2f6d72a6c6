"""Progress joins and aggregations: plain functions on DataFrames.

A progress record carries cumulative quantities as of its ``record_date``, so
a feature's state on any date is its latest record up to that date.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from .vocab import QUANTITIES, STATUS_ORDER

STATE_COLUMNS = ("status", "percent", "status_date")


def _iso(day) -> str | None:
    if day is None:
        return None
    return day.isoformat() if isinstance(day, dt.date) else str(day)


def latest(records: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """One row per (layer, feature_code): the newest record on or before ``as_of``.

    Records of the same date are ordered by their id (the index): later wins.
    """
    df = records
    if as_of is not None:
        df = df[df["record_date"] <= _iso(as_of)]
    if df.empty:
        return df.iloc[0:0].set_index(["layer", "feature_code"])
    df = df.assign(_id=df.index).sort_values(["layer", "feature_code", "record_date", "_id"])
    return df.groupby(["layer", "feature_code"], sort=True).tail(1).drop(columns="_id") \
             .set_index(["layer", "feature_code"])


def feature_state(features: pd.DataFrame, records: pd.DataFrame, layer: str,
                  link_field: str = "code", as_of=None, quantities=None) -> pd.DataFrame:
    """The features with their state (status, percent, quantities) as of a date.

    ``quantities`` limits the quantity columns joined (default: all kinds).
    Features without a record on or before the date get status None.
    """
    state = latest(records[records["layer"] == layer], as_of)
    keep = ["status", "percent", "record_date", *(QUANTITIES if quantities is None else quantities)]
    state = state.reset_index(level="layer", drop=True)[keep]
    state = state.rename(columns={"record_date": "status_date"})
    joined = features.join(state, on=link_field)
    joined["status"] = joined["status"].astype(object).where(joined["status"].notna(), None)
    return joined


def history(records: pd.DataFrame, layer: str, code: str) -> pd.DataFrame:
    """A feature's records, newest first."""
    df = records[(records["layer"] == layer) & (records["feature_code"] == code)]
    return df.assign(_id=df.index).sort_values(["record_date", "_id"], ascending=False).drop(columns="_id")


def count_by_status(state: pd.DataFrame) -> dict[str, int]:
    counts = state["status"].fillna("none").value_counts()
    return {s: int(counts.get(s, 0)) for s in [*STATUS_ORDER, "none"]}


def totals(state: pd.DataFrame, quantities: list[str]) -> dict[str, float]:
    return {q: float(state[q].fillna(0).sum()) for q in quantities}


def by_community(state: pd.DataFrame, community_field: str, quantities: list[str]) -> pd.DataFrame:
    """Per community: feature count, count per status, quantity totals."""
    df = state.assign(status=state["status"].fillna("none"))
    counts = pd.crosstab(df[community_field], df["status"])
    counts = counts.reindex(columns=[*STATUS_ORDER, "none"], fill_value=0)
    counts.insert(0, "features", counts.sum(axis=1))
    sums = df.groupby(community_field)[quantities].sum(min_count=1).fillna(0) if quantities else None
    return counts if sums is None else counts.join(sums)


def month_ends(start: dt.date, end: dt.date) -> list[dt.date]:
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        out.append(min(nxt - dt.timedelta(days=1), end))
        year, month = nxt.year, nxt.month
    return out


def by_month(records: pd.DataFrame, layer: str, quantities: list[str]) -> pd.DataFrame:
    """The layer's state at each month end: count per status and quantity totals."""
    df = records[records["layer"] == layer]
    if df.empty:
        return pd.DataFrame(columns=["month", *STATUS_ORDER, *quantities])
    first, last = (dt.date.fromisoformat(d) for d in (df["record_date"].min(), df["record_date"].max()))
    rows = []
    for day in month_ends(first, last):
        state = latest(df, day)
        row = {"month": day.strftime("%Y-%m")}
        row.update({s: int((state["status"] == s).sum()) for s in STATUS_ORDER})
        row.update({q: float(state[q].fillna(0).sum()) for q in quantities})
        rows.append(row)
    return pd.DataFrame(rows)
