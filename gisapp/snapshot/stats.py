"""The figures of one area, as plain numbers (rendered by :mod:`~gisapp.snapshot.document`).

- **Works**: per work layer, the features assigned to the area, counted by their status on the
  as-of date, the sums of the layer's quantities (cumulative, from each feature's latest record)
  and the finished share (done + accepted ÷ all registered in the area).
- **Targets**: each published figure of ``layers/figures.toml`` computed with the same rule as
  :func:`gisapp.figures.compute` but over the area's records only. The published value is the
  subdistrict-wide target; an area shows its value and its share of the subdistrict's total.
  Figures over tables without positions (activity log, support units) are only known for a
  community and the whole subdistrict (``None`` elsewhere).
- **Problems**: reports by category and state on the as-of date; open = not closed by then;
  overdue = open and reported more than ``overdue_days`` days before the as-of date.
"""
from __future__ import annotations

import pandas as pd

from ..figures import Figure
from ..progress import count_by_status
from ..vocab import CATEGORIES, FINISHED, REPORT_STATES
from .data import Selection
from .text import pick

OVERDUE_DAYS = 30
STATE_ORDER = [*REPORT_STATES, "open_then"]


def works(sel: Selection, registry, lang: str) -> list[dict]:
    rows = []
    for layer in registry.with_progress():
        gdf = sel.layers.get(layer.id)
        if layer.kind != "work" or gdf is None or gdf.empty:
            continue
        counts = count_by_status(gdf)
        finished = sum(counts[s] for s in FINISHED)
        quantities = [{"key": q.key, "label": q.label(lang), "unit": q.unit_label(lang),
                       "value": float(gdf[q.key].fillna(0).sum())} for q in layer.quantities]
        rows.append({"layer": layer.id, "title": layer.title.get(lang), "count": int(len(gdf)),
                     "by_status": counts, "finished": int(finished), "quantities": quantities})
    return rows


def _filtered(df: pd.DataFrame, where: dict) -> pd.DataFrame:
    for col, value in where.items():
        df = df[df[col] == value]
    return df


def figure_value(fig: Figure, sel: Selection) -> float | None:
    """The figure's value over the area's records (None: the source has no position)."""
    src = fig.source
    if src.layer:
        df = sel.layers.get(src.layer)
        if df is None:
            return 0.0
        df = _filtered(df, src.where)
        if src.status:
            df = df[df["status"].isin(src.status)]
        return float(len(df)) if src.measure == "count" else float(df[src.quantity].fillna(0).sum())
    df = sel.reports if src.table == "reports" else sel.tables.get(src.table)
    if df is None:
        return None
    df = _filtered(df, src.where)
    return float(len(df)) if src.measure == "count" else float(df[src.column].fillna(0).sum())


def targets(sel: Selection, figures: list[Figure], subdistrict: dict[str, float], lang: str) -> list[dict]:
    """Each published figure: the area's value beside the subdistrict's and the published target."""
    rows = []
    for fig in figures:
        value = figure_value(fig, sel)
        total = subdistrict.get(fig.key)
        rows.append({"key": fig.key, "label": fig.label.get(lang), "unit": pick(fig.unit, lang),
                     "value": value, "subdistrict": total, "published": fig.published,
                     "comparison": fig.comparison,
                     "share": (value / total) if value is not None and total else None})
    return rows


def problems(sel: Selection, overdue_days: int = OVERDUE_DAYS) -> dict:
    reports = sel.reports
    table: dict[str, dict[str, int]] = {}
    if len(reports):
        counts = reports.groupby(["category", "state"]).size()
        for (category, state), n in counts.items():
            table.setdefault(category, {})[state] = int(n)
    ordered = {c: table[c] for c in [*CATEGORIES, *sorted(set(table) - set(CATEGORIES))] if c in table}
    states = [s for s in STATE_ORDER if any(s in row for row in table.values())]
    open_ = reports[reports["open"]] if len(reports) else reports
    overdue = open_[open_["days_open"] > overdue_days] if len(open_) else open_
    return {"total": int(len(reports)), "open": int(len(open_)), "overdue": int(len(overdue)),
            "overdue_days": overdue_days, "states": states, "by_category": ordered}


def open_reports(sel: Selection, overdue_days: int = OVERDUE_DAYS) -> pd.DataFrame:
    """The open reports, oldest first, with an ``overdue`` flag."""
    reports = sel.reports
    if reports.empty:
        return reports.assign(overdue=pd.Series(dtype=bool))
    open_ = reports[reports["open"]].sort_values(["reported_at", "code"])
    return open_.assign(overdue=open_["days_open"] > overdue_days)
