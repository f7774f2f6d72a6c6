"""Reading reports: one report with its photos and events, handler lists (my open
items, overdue, by community), and Open311 GeoReport v2 shaped records."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..auth import User
from ..errors import ValidationFailed
from ..storage import Store
from ..vocab import CATEGORIES, REPORT_STATES
from .common import clean, fail, now as utc_now, parse_stamp, stamp
from .service import EVENTS, PHOTOS, REPORTS
from .workflow import OPEN, available, get_report

VIEWS = ("all", "mine", "overdue", "open", "closed")
LIST_COLUMNS = ["code", "category", "description", "status", "source", "community_code", "grid_code", "lane_code",
                "reported_at", "closed_at", "updated_at", "due_at", "reporter", "assignee", "dispatch_kind",
                "dispatch_to", "duplicate_of", "duplicate_state", "position_source", "accuracy_m"]
PHOTO_PUBLIC = ["report_code", "kind", "width", "height", "taken_at", "taken_at_source", "uploaded_by", "uploaded_at"]
MAX_LIMIT = 1000


def photos_of(store: Store, codes) -> pd.DataFrame:
    """Photo rows of reports (without their private EXIF position or file paths)."""
    return store.read(PHOTOS, where={"report_code": list(codes)}, columns=PHOTO_PUBLIC, order_by="uploaded_at")


def events_of(store: Store, code: str) -> list[dict]:
    df = store.read(EVENTS, where={"report_code": code}, order_by="at")
    return [{k: clean(v) for k, v in r.items()} for r in df.reset_index(drop=True).to_dict("records")]


def detail(store: Store, code: str) -> dict:
    fid, row = get_report(store, code)
    geom = store.read(REPORTS, where={"fid": fid}, columns=[]).geometry.iloc[0]
    photos = photos_of(store, [code])
    dups = store.read(REPORTS, where={"duplicate_of": code}, columns=["code", "status", "duplicate_state"], geometry=False)
    return {"fid": fid, "report": row, "lon": geom.x, "lat": geom.y, "events": events_of(store, code),
            "places": places(store, row),
            "photos": [{"id": int(i), **{k: clean(v) for k, v in r.items()}} for i, r in photos.iterrows()],
            "duplicates": [{k: clean(v) for k, v in r.items()} for r in dups.to_dict("records")],
            "actions": available(row), "overdue": bool(overdue_mask(pd.DataFrame([row]), utc_now())[0])}


PLACE_LAYERS = {"grid_code": "grid_cells", "lane_code": "back_lanes", "compound_code": "compounds",
                "market_code": "markets"}


def places(store: Store, row: dict) -> dict:
    """Names of the assigned grid cell, lane (with its manager, 路管家), compound and market."""
    out = {}
    for column, layer_id in PLACE_LAYERS.items():
        codes = [row.get(column)] + (str(clean(row.get("lane_alternatives")) or "").split(",") if column == "lane_code" else [])
        codes = [c for c in codes if c]
        if not codes or layer_id not in store.registry:
            continue
        layer = store.registry.get(layer_id)
        extra = ["manager"] if "manager" in {f.name for f in layer.fields} else []
        df = store.read(layer_id, where={layer.link_field: codes}, columns=[layer.link_field, layer.name_field, *extra], geometry=False)
        named = {r[layer.link_field]: r[layer.name_field] + (f"（{r['manager']}）" if extra and clean(r.get("manager")) else "")
                 for r in df.to_dict("records")}
        out[column] = [named.get(c, c) for c in codes]
    return out


def overdue_mask(df: pd.DataFrame, when: dt.datetime, due_days: float = 7) -> np.ndarray:
    """Open reports past their due time (reported_at + due_days when no due time is stored)."""
    if df.empty:
        return np.zeros(0, dtype=bool)
    due = pd.to_datetime(df["due_at"] if "due_at" in df else None, utc=True, errors="coerce")
    fallback = pd.to_datetime(df["reported_at"], utc=True, errors="coerce") + pd.Timedelta(days=due_days)
    due = due.fillna(fallback) if due is not None else fallback
    return (df["status"].isin(OPEN) & (due < pd.Timestamp(when))).to_numpy(bool)


def _where(view: str, community, category, status, user: User | None, since, until) -> dict:
    where: dict = {}
    if community:
        where["community_code"] = community
    if category:
        where["category"] = category
    if status:
        where["status"] = status
    elif view in ("mine", "overdue", "open"):
        where["status"] = list(OPEN)
    elif view == "closed":
        where["status"] = "closed"
    span = {op: v for op, v in ((">=", since), ("<=", until)) if v}
    if span:
        where["reported_at"] = span
    return where


def _mine(df: pd.DataFrame, user: User | None) -> np.ndarray:
    """Reports a user answers for: taken by them, dispatched to their unit, or reported by them."""
    if user is None:
        return np.zeros(len(df), dtype=bool)
    mine = (df["assignee"] == user.username) | (df["reporter"] == user.username)
    if user.unit:
        mine |= df["dispatch_to"] == user.unit
    return mine.fillna(False).to_numpy(bool)


def list_reports(store: Store, view: str = "all", user: User | None = None, community=None, category=None,
                 status=None, since=None, until=None, limit: int = 200, offset: int = 0, due_days: float = 7,
                 when: dt.datetime | None = None) -> tuple[pd.DataFrame, int]:
    """Reports of a view, newest first, with an 'overdue' column; and the total before paging."""
    if view not in VIEWS:
        fail(ValidationFailed, f"未知的列表：{view[:20]}", f"unknown list: {view[:20]}")
    if status and status not in REPORT_STATES:
        fail(ValidationFailed, "未知的状态", "unknown status")
    if category and category not in CATEGORIES:
        fail(ValidationFailed, "未知的问题类别", "unknown category")
    when, limit, offset = when or utc_now(), max(1, min(int(limit), MAX_LIMIT)), max(0, int(offset))
    where = _where(view, community, category, status, user, since, until)
    if view in ("mine", "overdue"):  # decided on a few columns of the open reports, then one page read
        keys = store.read(REPORTS, where=where, columns=["status", "reported_at", "due_at", "assignee", "reporter",
                                                         "dispatch_to"], order_by="-reported_at", geometry=False)
        fids = keys.index[_mine(keys, user) if view == "mine" else overdue_mask(keys, when, due_days)]
        total, where = len(fids), {"fid": [int(f) for f in fids[offset:offset + limit]]}
        df = store.read(REPORTS, where=where, columns=LIST_COLUMNS, order_by="-reported_at")
    else:  # paged in the store: a list of a million reports reads one page
        total = store.count(REPORTS, where=where)
        df = store.read(REPORTS, where=where, columns=LIST_COLUMNS, order_by="-reported_at", limit=limit, offset=offset)
    return df.assign(overdue=overdue_mask(df, when, due_days)), total


def by_community(store: Store, due_days: float = 7, when: dt.datetime | None = None) -> list[dict]:
    """Per community: open, overdue and closed counts (communities without reports too), counted
    in the store. Overdue as :func:`overdue_mask`: open and past ``due_at`` or, without one,
    past ``reported_at`` + ``due_days`` (the stored times are ISO text in one form, compared as text)."""
    when = when or utc_now()
    is_open = {"status": list(OPEN)}
    counts = {"open": store.count_by(REPORTS, "community_code", is_open),
              "closed": store.count_by(REPORTS, "community_code", {"status": "closed"})}
    late = store.count_by(REPORTS, "community_code", {**is_open, "due_at": {">=": "0", "<": stamp(when)}})
    undated = store.count_by(REPORTS, "community_code", {**is_open, "due_at": None, "reported_at": {
        "<": stamp(when - dt.timedelta(days=due_days))}})
    counts["overdue"] = {code: late.get(code, 0) + undated.get(code, 0) for code in set(late) | set(undated)}
    names = store.read("communities", columns=["code", "name"], geometry=False)
    return [{"code": code, "name": name, **{k: int(counts[k].get(code, 0)) for k in ("open", "overdue", "closed")}}
            for code, name in zip(names["code"], names["name"])]


def open311(row: dict, lon: float, lat: float, lang: str = "zh", media_url: str | None = None,
            community_name: str | None = None) -> dict:
    """A report as an Open311 GeoReport v2 service request, plus gisapp's own fields."""
    status = row.get("status")
    return {
        "service_request_id": row["code"], "status": "closed" if status == "closed" else "open",
        "status_notes": REPORT_STATES.get(status, {}).get(lang, status),
        "service_code": row["category"], "service_name": CATEGORIES.get(row["category"], {}).get(lang, row["category"]),
        "description": clean(row.get("description")), "agency_responsible": clean(row.get("dispatch_to")),
        "requested_datetime": _iso(row.get("reported_at")), "updated_datetime": _iso(clean(row.get("updated_at")) or row.get("reported_at")),
        "expected_datetime": _iso(row.get("due_at")), "address": community_name, "address_id": clean(row.get("grid_code")),
        "zipcode": None, "lat": round(float(lat), 7), "long": round(float(lon), 7), "media_url": media_url,
        "state": status, "community_code": clean(row.get("community_code")), "grid_code": clean(row.get("grid_code")),
        "lane_code": clean(row.get("lane_code")), "lane_alternatives": _split(row.get("lane_alternatives")),
        "compound_code": clean(row.get("compound_code")), "market_code": clean(row.get("market_code")),
        "position_source": clean(row.get("position_source")), "accuracy_m": clean(row.get("accuracy_m")),
        "duplicate_of": clean(row.get("duplicate_of")), "duplicate_state": clean(row.get("duplicate_state")),
        "reporter": clean(row.get("reporter")), "assignee": clean(row.get("assignee")),
        "closed_datetime": _iso(row.get("closed_at")),
    }


def _iso(value) -> str | None:
    when = parse_stamp(clean(value))
    return stamp(when) if when else None


def _split(value) -> list[str]:
    value = clean(value)
    return [v for v in str(value).split(",") if v] if value else []


def services(lang: str = "zh") -> list[dict]:
    """Open311 service list: the problem categories."""
    return [{"service_code": code, "service_name": labels[lang], "description": labels["zh" if lang == "en" else "en"],
             "metadata": False, "type": "realtime", "keywords": "", "group": "创文" if lang == "zh" else "campaign"}
            for code, labels in CATEGORIES.items()]
