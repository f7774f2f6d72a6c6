"""Deterministic, illustrative demo data for 富世街道's 2023 civilized-city campaign.

`build_demo(seed)` makes every layer of ``layers/*.toml``, the progress records and the tables
(activity log, support units, reports) so that the published figures of ``layers/figures.toml``
come out of aggregations over the records. Only the files in ``layers/demo`` are read: the real
county outline and 2016 community codes/names. All other geometry and records are made up.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..registry import LayerDef, load_registry
from ..vocab import ACTIVITY_KINDS, CATEGORIES, QUANTITIES, REPORT_STATES, STATUS_ORDER
from . import places as P

LAYERS_DIR = Path(__file__).resolve().parents[2] / "layers"
CRS = "EPSG:4326"
YEAR = 2023
HOUSEHOLDS_RENOVATED = 2766
LANE_SURFACE_M2 = 19700
N_LANES, N_AREAS, N_DEMOLITIONS, N_BINS = 21, 7, 126, 370
N_INSPECTIONS, N_COMPLAINTS, N_FIELD_REPORTS = 1607, 147, 40
VOLUNTEER_EVENTS, VOLUNTEER_PEOPLE, NOTICE_BOARDS = 2388, 62800, 305
PROGRESS_COLUMNS = ["layer", "feature_code", "record_date", "status", "percent", "note", "author",
                    *QUANTITIES]

# Progress window per layer: first day, last day, share of features still in progress at the end.
PLAN = {
    "renovation_areas": ("03-01", "11-30", 0.0),
    "compounds": ("03-01", "11-30", 0.0),
    "back_lanes": ("03-15", "10-31", 0.0),
    "markets": ("04-01", "10-31", 0.0),
    "parking_spaces": ("06-01", "11-30", 0.0),
    "demolitions": ("02-01", "12-15", 0.0),
    "waste_bins": ("04-01", "12-15", 0.0),
    "practice_points": ("01-10", "12-28", 0.1),
    "publicity_points": ("02-01", "12-20", 0.12),
}
NOTES = {
    "planned": ["列入年度计划", "完成摸底登记", "方案已审定"],
    "in_progress": ["施工推进中", "正在实施", "已进场施工", "按台账推进"],
    "done": ["已完工", "完成整治"],
    "accepted": ["已通过验收", "验收合格，资料归档"],
}
OLD_TOWN = ["西湖社区", "文庙社区", "后街社区", "釜江社区", "北湖社区", "五府山社区", "吉安社区",
            "晨光社区", "糖厂社区", "化肥厂社区"]


@dataclass
class DemoData:
    layers: dict[str, gpd.GeoDataFrame]
    progress: pd.DataFrame
    tables: dict[str, pd.DataFrame]


def build_demo(seed: int = 2023) -> DemoData:
    rng = np.random.default_rng(seed)
    registry = load_registry(LAYERS_DIR)
    county = P.to_local_geom(P.county_outline_wgs84())
    outline, comms = _communities(rng, county)
    feats = {
        "county_outline": [{"code": "510322", "name": "富顺县", "source": P.COUNTY_SOURCE, "geometry": county}],
        "subdistrict": [{"code": P.TOWN_CODE, "name": "富世街道", "geometry": outline}],
        "communities": comms,
        "grid_cells": _grid_cells(rng, comms),
    }
    feats["renovation_areas"], feats["compounds"] = _renovation(rng, comms)
    taken = [f["geometry"] for f in feats["renovation_areas"]]
    feats["markets"] = _markets(rng, comms, taken)
    taken += [f["geometry"] for f in feats["markets"]]
    feats["back_lanes"], feats["parking_spaces"] = _lanes(rng, comms, taken)
    feats["demolitions"] = _demolitions(rng, comms)
    feats["waste_bins"] = _waste_bins(rng, comms)
    feats["practice_points"] = _practice_points(rng, comms, feats["back_lanes"])
    feats["publicity_points"] = _publicity_points(rng, comms)
    layers = {layer.id: _frame(layer, feats[layer.id]) for layer in registry}
    tables = {"activity_log": _activity_log(rng, comms), "support_units": _support_units(rng, comms),
              "reports": _reports(rng, comms)}
    return DemoData(layers, _progress(rng, registry, feats), tables)


# --- helpers --------------------------------------------------------------------------------

def split_total(rng, total: int, n: int, weights=None, minimum: int = 0) -> np.ndarray:
    """`n` integers >= minimum summing to `total`, in proportion to (random) weights."""
    w = rng.uniform(0.5, 1.5, n) if weights is None else np.asarray(weights, dtype=float)
    parts = minimum + np.floor(w / w.sum() * (total - minimum * n)).astype(int)
    parts[-1] += total - parts.sum()  # the rounding remainder goes to the last item
    return parts


def _short(name: str) -> str:
    return name.removesuffix("社区")


def _frame(layer: LayerDef, feats: list[dict]) -> gpd.GeoDataFrame:
    """Rows to a GeoDataFrame with exactly the layer's fields, declared geometry type, EPSG:4326."""
    columns = [f.name for f in layer.fields]
    missing = [c for c in columns if feats and c not in feats[0]]
    if missing:
        raise KeyError(f"demo layer {layer.id}: no values for field(s) {', '.join(missing)}")
    df = pd.DataFrame([{c: feat[c] for c in columns} for feat in feats], columns=columns)
    for f in layer.fields:
        if f.type == "integer":
            df[f.name] = df[f.name].astype("int64")
        elif f.type == "real":
            df[f.name] = df[f.name].astype(float)
    geoms = np.array([feat["geometry"] for feat in feats], dtype=object)
    if layer.geometry == "MultiPolygon":
        geoms = np.array([g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geoms],
                         dtype=object)
    return gpd.GeoDataFrame(df, geometry=P.to_lonlat(geoms), crs=CRS)


def _points_by_community(rng, comms, counts, margin: float = 10.0):
    """(community, xy) pairs: counts[i] random points inside community i."""
    out = []
    for comm, k in zip(comms, counts):
        for xy in P.sample_points(rng, comm["geometry"].buffer(-margin), int(k)):
            out.append((comm, xy))
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def _place_rect(rng, poly, size, taken, margin: float = 15.0):
    """A rotated rectangle inside `poly`, clear of `taken`; shrinks if it does not fit."""
    inner = poly.buffer(-margin)
    w, h = size
    for attempt in range(400):
        if attempt and attempt % 40 == 0:
            w, h = w * 0.9, h * 0.9
        centre = P.sample_points(rng, inner, 1)[0]
        angle = float(rng.uniform(-35, 35))
        rect = P.rotated_rect(*centre, w, h, angle)
        if inner.contains(rect) and not any(rect.intersects(t.buffer(10)) for t in taken):
            return rect, centre, angle, (w, h)
    raise RuntimeError("could not place a rectangle")


# --- places ---------------------------------------------------------------------------------

def _communities(rng, county):
    info = P.community_list()
    x0, y0, x1, y1 = P.FRAME
    fixed = {}
    for i, c in enumerate(info):  # known centres; one outside the compact frame is pulled inside
        if c["centre"] is not None:
            x, y = (float(v) for v in P.to_local(*c["centre"]))
            if not (x0 < x < x1 and y0 < y < y1):
                x, y = float(np.clip(x, x0 + 300, x1 - 300)), float(np.clip(y, y0 + 300, y1 - 300))
            fixed[i] = (x, y)
    for _ in range(200):
        outline = P.subdistrict_outline(rng)
        if county.contains(outline) and all(outline.buffer(-150).contains(shapely.Point(p)) for p in fixed.values()):
            break
    else:
        raise RuntimeError("could not draw a subdistrict outline around the known community centres")
    others = P.spread_points(rng, outline, len(info) - len(fixed), fixed=list(fixed.values()),
                             min_dist=650, margin=200)
    seeds, it = [], iter(others)
    for i in range(len(info)):
        seeds.append(fixed[i] if i in fixed else next(it))
    cells = P.voronoi_cells(np.array(seeds), outline)
    comms = []
    for c, cell in zip(info, cells):
        households = int(cell.area / 1e6 * rng.uniform(3500, 8000)) + int(rng.integers(300, 900))
        comms.append({"code": c["code"], "name": c["name"], "name_2016": c["name_2016"],
                      "households": households, "geometry": cell})
    return outline, comms


def _grid_cells(rng, comms):
    feats = []
    for comm in comms:
        poly, k = comm["geometry"], int(rng.integers(3, 7))
        seeds = P.spread_points(rng, poly, k, min_dist=np.sqrt(poly.area / k) * 0.6, margin=20)
        workers = P.person_names(rng, k)
        for j, cell in enumerate(P.voronoi_cells(seeds, poly), start=1):
            feats.append({"code": f"{comm['code']}-{j:02d}", "name": f"{comm['name']}第{j}网格",
                          "community_code": comm["code"], "grid_worker": workers[j - 1], "geometry": cell})
    return feats


def _renovation(rng, comms):
    by_name = {c["name"]: c for c in comms}
    chosen = rng.choice(OLD_TOWN, N_AREAS, replace=False)
    n_compounds = rng.integers(2, 6, N_AREAS)
    households = split_total(rng, HOUSEHOLDS_RENOVATED, int(n_compounds.sum()), minimum=40)
    names = iter(rng.permutation(P.COMPOUND_NAMES))
    areas, compounds, k = [], [], 0
    for a, (cname, n) in enumerate(zip(chosen, n_compounds), start=1):
        comm = by_name[cname]
        size = (rng.uniform(200, 320), rng.uniform(150, 230))
        rect, centre, angle, size = _place_rect(rng, comm["geometry"], size, [f["geometry"] for f in areas])
        code = f"PQ{a:02d}"
        funds = 0.0
        for j, cell in enumerate(P.rect_cells(size, centre, angle, int(n), rng), start=1):
            hh = int(households[k])
            k += 1
            q = {"households": hh, "funds_cny": float(round(hh * rng.uniform(3500, 6500), -2))}
            funds += q["funds_cny"]
            compounds.append({"code": f"{code}-{j:02d}", "name": str(next(names)), "area_code": code,
                              "community_code": comm["code"], "buildings": max(1, round(hh / rng.uniform(18, 40))),
                              "households_total": hh + int(rng.integers(0, 12)), "geometry": cell, "_q": q})
        areas.append({"code": code, "name": f"{_short(cname)}片区", "community_code": comm["code"],
                      "budget_cny": float(round(funds * rng.uniform(1.0, 1.12), -3)), "geometry": rect,
                      "_q": {"funds_cny": funds}})
    return areas, compounds


def _markets(rng, comms, taken):
    by_name = {c["name"]: c for c in comms}
    people = split_total(rng, 630 + int(rng.integers(1, 10)), 2)
    items = split_total(rng, 190 + int(rng.integers(1, 10)), 2)
    feats = []
    for i, (name, cname) in enumerate([("吉安庄农贸市场", "吉安社区"), ("市中花园农贸市场", "文庙社区")]):
        size = (rng.uniform(70, 95), rng.uniform(45, 65))
        rect, *_ = _place_rect(rng, by_name[cname]["geometry"], size, taken)
        q = {"people": int(people[i]), "items": int(items[i]), "funds_cny": float(round(rng.uniform(1.5e6, 3e6), -3))}
        feats.append({"code": f"SC{i + 1:02d}", "name": name, "community_code": by_name[cname]["code"],
                      "stalls": int(rng.integers(150, 320)), "geometry": rect, "_q": q})
    return feats


def _place_lane(rng, comms, weights, length, lanes, taken, home=None):
    """A lane inside a community (``home`` if given, else one drawn by weight)."""
    for attempt in range(600):
        if attempt and attempt % 60 == 0:
            length = max(150.0, length * 0.9)
        comm = comms[home if home is not None else rng.choice(len(comms), p=weights)]
        inner = comm["geometry"].buffer(-20)
        if inner.is_empty:
            continue
        line = P.wander_line(rng, P.sample_points(rng, inner, 1)[0], length, int(rng.integers(2, 4)))
        if inner.contains(line) and all(line.distance(o) > 30 for o in lanes + taken):
            return comm, line
    raise RuntimeError("could not place a lane")


def _lanes(rng, comms, taken):
    # back lanes are in the old town: its communities weigh more, 后街社区 has the first two
    area = np.array([c["geometry"].area * (4 if c["name"] in OLD_TOWN else 1) for c in comms])
    weights = area / area.sum()
    houjie = next(i for i, c in enumerate(comms) if c["name"] == "后街社区")
    names = ["三道拐"] + list(rng.choice(P.LANE_NAMES[1:], N_LANES - 1, replace=False))
    placed = []
    for i, name in enumerate(names):
        comm, line = _place_lane(rng, comms, weights, rng.uniform(150, 380), [l for _, _, l in placed], taken,
                                 home=houjie if i in (1, 2) else None)
        placed.append((name, comm, line))
    length = np.array([line.length for *_, line in placed])
    width = np.round(rng.uniform(3.0, 5.5, N_LANES), 1)
    surface = split_total(rng, LANE_SURFACE_M2, N_LANES, weights=length * width)
    funds = split_total(rng, 5_000_000 + int(rng.integers(20_000, 90_000)), N_LANES,
                        weights=surface * rng.uniform(0.85, 1.15, N_LANES))
    spaces = split_total(rng, 2700 + int(rng.integers(8, 60)), N_LANES,
                         weights=length * rng.uniform(0.85, 1.15, N_LANES))
    managers, phones = P.person_names(rng, N_LANES), P.fake_phones(rng, N_LANES)
    lanes, parking = [], []
    for i, (name, comm, line) in enumerate(placed):
        code = f"BJ{i + 1:02d}"
        q = {"area_m2": float(surface[i]), "spaces": int(spaces[i]), "funds_cny": float(funds[i])}
        lanes.append({"code": code, "name": name, "community_code": comm["code"], "length_m": round(length[i], 1),
                      "width_m": float(width[i]), "manager": managers[i], "manager_phone": phones[i],
                      "geometry": line, "_q": q})
        for k, xy in enumerate(P.points_beside(line, int(spaces[i]), rng), start=1):
            parking.append({"code": f"{code}-{k:03d}", "name": f"{name}{k}号车位", "lane_code": code,
                            "community_code": comm["code"], "geometry": shapely.Point(xy), "_q": {"spaces": 1}})
    return lanes, parking


def _demolitions(rng, comms):
    counts = split_total(rng, N_DEMOLITIONS, len(comms), minimum=2)
    feats = []
    for i, (comm, xy) in enumerate(_points_by_community(rng, comms, counts), start=1):
        kind, street, no = rng.choice(P.STRUCTURE_TYPES), rng.choice(P.STREETS), int(rng.integers(1, 220))
        feats.append({"code": f"CJ{i:03d}", "name": f"{street}{no}号{kind}", "community_code": comm["code"],
                      "structure_type": str(kind), "address": f"{_short(comm['name'])}{street}{no}号附近",
                      "geometry": shapely.Point(xy),
                      "_q": {"structures": 1, "area_m2": float(round(rng.uniform(5, 80) * 2) / 2)}})
    return feats


def _waste_bins(rng, comms):
    counts = split_total(rng, N_BINS, len(comms), weights=[c["households"] for c in comms], minimum=8)
    spots = ["小区门口", "菜市场旁", "公交站旁", "广场", "巷口", "学校旁", "楼栋下", "河边步道"]
    return [{"code": f"LJ{i:03d}", "name": f"{rng.choice(P.STREETS)}{rng.choice(spots)}分类垃圾桶",
             "community_code": comm["code"], "geometry": shapely.Point(xy), "_q": {"pairs": 1}}
            for i, (comm, xy) in enumerate(_points_by_community(rng, comms, counts), start=1)]


def _practice_points(rng, comms, lanes):
    by_name = {c["name"]: c for c in comms}
    flower = next(l for l in lanes if l["name"] == "三道拐")
    order = rng.permutation(len(comms))
    suffixes = iter(rng.permutation(P.PRACTICE_SUFFIXES))
    named = dict(zip([i for i in order if comms[i]["code"] != flower["community_code"]], P.PRACTICE_POINTS[:4]))
    named[next(i for i, c in enumerate(comms) if c["code"] == flower["community_code"])] = "三道拐花街"
    specs = [(named.get(i) or f"{_short(c['name'])}{next(suffixes)}", c, "point") for i, c in enumerate(comms)]
    specs += [(name, by_name[cname], "county_station") for name, cname in P.COUNTY_STATIONS]
    weights = np.array([3.0 if level == "county_station" else 1.0 for *_, level in specs])
    weights *= rng.uniform(0.6, 1.4, len(specs))
    events = split_total(rng, VOLUNTEER_EVENTS, len(specs), weights=weights)
    people = split_total(rng, VOLUNTEER_PEOPLE, len(specs), weights=events * rng.uniform(0.8, 1.2, len(specs)))
    feats = []
    for i, (name, comm, level) in enumerate(specs):
        if name == "三道拐花街":
            xy = P.points_beside(flower["geometry"], 1, rng, offset=6.0)[0]
        else:
            xy = P.sample_points(rng, comm["geometry"].buffer(-15), 1)[0]
        feats.append({"code": f"SJ{i + 1:02d}", "name": name, "community_code": comm["code"], "level": level,
                      "geometry": shapely.Point(xy), "_q": {"events": int(events[i]), "people": int(people[i])}})
    return feats


def _publicity_points(rng, comms):
    counts = rng.integers(5, 9, len(comms))
    pts = sorted(_points_by_community(rng, comms, counts), key=lambda p: p[0]["code"])
    boards = split_total(rng, NOTICE_BOARDS, len(pts))
    ads = split_total(rng, 3900 + int(rng.integers(5, 90)), len(pts), minimum=5)
    kinds = ["宣传栏", "LED屏", "公益广告牌", "便民信息张贴栏", "文化墙", "宣传橱窗"]
    return [{"code": f"XC{i + 1:03d}", "name": f"{rng.choice(P.STREETS)}{rng.choice(kinds)}",
             "community_code": comm["code"], "geometry": shapely.Point(xy),
             "_q": {"ads": int(ads[i]), "boards": int(boards[i])}}
            for i, (comm, xy) in enumerate(pts)]


# --- progress records -----------------------------------------------------------------------

def _progress(rng, registry, feats) -> pd.DataFrame:
    rows = []
    for layer in registry.with_progress():
        start, end, unfinished = PLAN[layer.id]
        window = (dt.date.fromisoformat(f"{YEAR}-{start}"), dt.date.fromisoformat(f"{YEAR}-{end}"))
        for feat in feats[layer.id]:
            rows += _feature_records(rng, layer.id, feat["code"], feat["_q"], window, unfinished)
    df = pd.DataFrame(rows).reindex(columns=PROGRESS_COLUMNS)
    df[list(QUANTITIES)] = df[list(QUANTITIES)].astype(float)
    return df


def _feature_records(rng, layer_id, code, finals, window, unfinished) -> list[dict]:
    """2-6 records: dates strictly increasing, statuses and percent never going back,
    quantities cumulative with the latest record carrying the totals."""
    start, end = window
    n = int(rng.integers(2, 7))
    days = np.sort(rng.choice((end - start).days + 1, n, replace=False))
    last = 1 if rng.random() < unfinished else int(rng.choice([2, 3], p=[0.4, 0.6]))
    steps = np.append(np.sort(rng.integers(0, max(last, 2), n - 1)), last)
    percent = np.where(steps >= 2, 100.0, 0.0)
    working = steps == 1
    percent[working] = np.sort(np.round(rng.uniform(5, 95, working.sum()), 1))
    authors = rng.integers(0, len(P.STAFF), n)
    notes = rng.integers(0, 4, n)
    rows = []
    for i in range(n):
        status = STATUS_ORDER[steps[i]]
        row = {"layer": layer_id, "feature_code": code, "record_date": start + dt.timedelta(days=int(days[i])),
               "status": status, "percent": float(percent[i]),
               "note": NOTES[status][notes[i] % len(NOTES[status])], "author": P.STAFF[authors[i]]}
        frac = percent[i] / percent[-1]
        for key, total in finals.items():
            row[key] = float(total) if i == n - 1 else float(np.floor(total * frac))
        rows.append(row)
    return rows


# --- tables ---------------------------------------------------------------------------------

ACTIVITY_NOTES = {
    "flyers_cleaned": ["清理楼道小广告", "清除电杆牛皮癣", "志愿者清理张贴物"],
    "sewers_unblocked": ["疏通小区下水道", "清掏雨污井", "配合水务疏通管网"],
    "dead_corners_cleaned": ["清理背街卫生死角", "清运楼顶杂物", "整治房前屋后"],
    "wire_charging_handled": ["劝导飞线充电", "入户宣传电动车安全充电", "拆除私拉电线"],
}


def _activity_log(rng, comms) -> pd.DataFrame:
    jan1 = dt.date(YEAR, 1, 1)
    weeks = [jan1 + dt.timedelta(days=1 + 7 * k) for k in range(52)]  # Mondays
    month_ends = [dt.date(YEAR, m + 1, 1) - dt.timedelta(days=1) for m in range(1, 12)] + [dt.date(YEAR, 12, 31)]
    pairs = [(d, c) for d in weeks for c in comms]
    slots = {
        "flyers_cleaned": [pairs[i] for i in np.flatnonzero(rng.random(len(pairs)) < 0.85)],
        "wire_charging_handled": [(d, c) for d in month_ends for c in comms],
        "dead_corners_cleaned": [pairs[i] for i in np.sort(rng.choice(len(pairs), 170, replace=False))],
        "sewers_unblocked": [pairs[i] for i in np.sort(rng.choice(len(pairs), 41, replace=False))],
    }
    totals = {"flyers_cleaned": 3100 + int(rng.integers(5, 95)), "sewers_unblocked": 63,
              "wire_charging_handled": 2370 + int(rng.integers(1, 10)),
              "dead_corners_cleaned": 260 + int(rng.integers(1, 10))}
    rows = []
    for kind in ACTIVITY_KINDS:
        amounts = split_total(rng, totals[kind], len(slots[kind]), minimum=1)
        for (day, comm), amount in zip(slots[kind], amounts):
            day = day + dt.timedelta(days=int(rng.integers(0, 5))) if kind != "wire_charging_handled" else day
            rows.append({"log_date": min(day, dt.date(YEAR, 12, 31)), "community_code": comm["code"], "kind": kind,
                         "quantity": float(amount), "note": str(rng.choice(ACTIVITY_NOTES[kind])),
                         "author": P.STAFF[int(rng.integers(0, len(P.STAFF)))]})
    return pd.DataFrame(rows).sort_values(["log_date", "community_code", "kind"], ignore_index=True)


def _support_units(rng, comms) -> pd.DataFrame:
    n = len(P.SUPPORT_UNITS)
    slots = np.concatenate([np.repeat(np.arange(len(comms)), n // len(comms)),
                            rng.choice(len(comms), n % len(comms), replace=False)])
    slots = rng.permutation(slots)
    contacts = [f"{p} {t}" for p, t in zip(P.person_names(rng, n), P.fake_phones(rng, n))]
    return pd.DataFrame({"name": P.SUPPORT_UNITS, "community_code": [comms[i]["code"] for i in slots],
                         "contact": contacts})


REPORT_TEXT = {
    "dead_corner": "{p}堆积生活垃圾，形成卫生死角",
    "dumping": "{p}杂物乱堆乱放，影响通行",
    "flyers": "{p}墙面、电杆张贴小广告",
    "graffiti": "{p}墙面乱涂乱写",
    "illegal_structure": "{p}私自搭建彩钢棚",
    "wire_charging": "{p}楼道飞线给电动车充电",
    "street_vending": "{p}流动摊贩占道经营",
    "illegal_parking": "{p}车辆乱停乱放",
    "fire_lane": "{p}杂物占用消防通道",
    "sewer": "{p}下水道堵塞，污水外溢",
    "dog_nuisance": "{p}遛狗不牵绳、不清理粪便",
    "other": "{p}路灯损坏，夜间照明不足",
}
CATEGORY_WEIGHTS = {"dead_corner": 3, "dumping": 3, "flyers": 4, "wire_charging": 2, "street_vending": 2,
                    "illegal_parking": 3}
SPOTS = ["菜市场旁", "小区门口", "背街小巷", "河边步道", "公交站旁", "楼栋后侧", "巷口", "学校门口"]


def _stamp(day: int, seconds: float) -> dt.datetime:
    """Beijing local time on day-of-year `day` + seconds, as naive UTC."""
    return dt.datetime(YEAR, 1, 1) + dt.timedelta(days=day, seconds=seconds) - dt.timedelta(hours=8)


def _reports(rng, comms) -> gpd.GeoDataFrame:
    specs = [("inspection", N_INSPECTIONS, (2, 352)), ("complaint", N_COMPLAINTS, (60, 334)),
             ("field", N_FIELD_REPORTS, (333, 363))]
    cats = list(CATEGORIES)
    weights = np.array([CATEGORY_WEIGHTS.get(c, 1.0) for c in cats])
    open_states = [s for s in REPORT_STATES if s != "closed"]
    end = dt.datetime(YEAR, 12, 31, 15, 59, 59)  # 23:59:59 Beijing time
    hh = np.array([c["households"] for c in comms], dtype=float)
    rows = []
    for source, n, (d0, d1) in specs:
        counts = np.bincount(rng.choice(len(comms), n, p=hh / hh.sum()), minlength=len(comms))
        for comm, xy in _points_by_community(rng, comms, counts, margin=5):
            reported = _stamp(int(rng.integers(d0, d1)), rng.uniform(8 * 3600, 18.5 * 3600))
            category = cats[rng.choice(len(cats), p=weights / weights.sum())]
            text = REPORT_TEXT.get(category, "{p}存在不文明现象").format(p=f"{comm['name']}{rng.choice(SPOTS)}")
            closed = min(end, reported + dt.timedelta(days=float(rng.uniform(0.2, 10)))) if source != "field" else None
            rows.append({"category": category, "description": ("居民反映：" if source == "complaint" else "") + text,
                         "status": "closed" if closed else str(rng.choice(open_states)), "source": source,
                         "community_code": comm["code"], "reported_at": reported, "closed_at": closed,
                         "reporter": P.STAFF[int(rng.integers(0, len(P.STAFF)))], "geometry": shapely.Point(xy)})
    rows.sort(key=lambda r: r["reported_at"])
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    for i, r in enumerate(rows, start=1):
        r["code"] = f"WT{YEAR}{i:05d}"
        r["reported_at"] = r["reported_at"].strftime(fmt)
        r["closed_at"] = r["closed_at"].strftime(fmt) if r["closed_at"] else None
    columns = ["code", "category", "description", "status", "source", "community_code", "reported_at",
               "closed_at", "reporter", "geometry"]
    df = pd.DataFrame(rows, columns=columns)
    df["closed_at"] = pd.Series([r["closed_at"] for r in rows], dtype=object)  # None, not NaN, when open
    return gpd.GeoDataFrame(df.drop(columns="geometry"), geometry=P.to_lonlat(df["geometry"].to_numpy()), crs=CRS)
