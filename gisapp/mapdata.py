"""Data behind the planner map: filters, layer GeoJSON, popups, clusters, search.

Plain functions over the store; the API blueprint only parses and serialises.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .coords import wgs84_to_gcj02
from .errors import BadRequest
from .progress import feature_state, history
from .registry import LayerDef
from .storage import Store
from .vocab import CATEGORIES, REPORT_STATES, STATUSES

REPORTS = "reports"
REPORT_FIELDS = ["code", "category", "status", "source", "community_code", "reported_at", "closed_at"]
MAX_POINTS = 5000  # above this many points in a view, the server sends clusters
CLUSTER_GRID = 28  # clusters on a grid of this many cells across the view


@dataclass(frozen=True)
class MapFilter:
    community: str | None = None
    statuses: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    as_of: dt.date | None = None
    layers: tuple[str, ...] = field(default=())

    def query(self) -> dict[str, str]:
        """The filter as URL query parameters (what the page puts in its address)."""
        out = {"community": self.community, "status": ",".join(self.statuses),
               "from": _iso(self.date_from), "to": _iso(self.date_to), "as_of": _iso(self.as_of),
               "layers": ",".join(self.layers)}
        return {k: v for k, v in out.items() if v}


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _date(args, name: str) -> dt.date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest({"zh": f"参数 {name} 不是有效日期（应为 YYYY-MM-DD）", "en": f"{name} must be a date (YYYY-MM-DD)"}) from None


def _list(args, name: str, allowed) -> tuple[str, ...]:
    """Comma-separated values, also given as repeated parameters (form checkboxes)."""
    raw = ",".join(args.getlist(name)) if hasattr(args, "getlist") else (args.get(name) or "")
    items = tuple(dict.fromkeys(x for x in raw.split(",") if x))
    bad = [x for x in items if x not in allowed]
    if bad:
        raise BadRequest({"zh": f"参数 {name} 含有未知的值：{escape(bad[0][:40])}",
                          "en": f"unknown value in {name}: {escape(bad[0][:40])}"})
    return items


def parse_filter(args, store: Store) -> MapFilter:
    """A MapFilter from query parameters; anything unknown is a 400 with a clear message."""
    community = (args.get("community") or "").strip() or None
    if community and not store.count("communities", where={"code": community}):
        raise BadRequest({"zh": "没有这个社区", "en": "no such community"})
    filt = MapFilter(community, _list(args, "status", STATUSES), _date(args, "from"), _date(args, "to"),
                     _date(args, "as_of"), _list(args, "layers", [*store.registry.layers, REPORTS]))
    if filt.date_from and filt.date_to and filt.date_from > filt.date_to:
        raise BadRequest({"zh": "开始日期晚于结束日期", "en": "the start date is after the end date"})
    return filt


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    try:
        box = tuple(float(v) for v in value.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not np.isfinite(box).all() or box[0] > box[2] or box[1] > box[3] \
            or not (-180 <= box[0] <= 180 and -180 <= box[2] <= 180 and -90 <= box[1] <= 90 and -90 <= box[3] <= 90):
        raise BadRequest({"zh": "bbox 应为 西,南,东,北 经纬度", "en": "bbox must be west,south,east,north in degrees"})
    return box  # type: ignore[return-value]


# --- works layers --------------------------------------------------------------

def layer_state(store: Store, layer: LayerDef, filt: MapFilter, bbox=None, geometry: bool = True) -> pd.DataFrame:
    """The layer's features with their state as of the filter date, filtered."""
    where = {layer.community_field: filt.community} if filt.community and layer.community_field else None
    if filt.community and layer.id == "communities":
        where = {"code": filt.community}
    gdf = store.read(layer.id, where=where, bbox=bbox, geometry=geometry)
    if not layer.progress:
        return gdf
    records = store.progress(layer.id, until=filt.as_of)
    gdf = feature_state(gdf, records, layer.id, layer.link_field, quantities=layer.quantity_keys)
    if filt.statuses:
        gdf = gdf[gdf["status"].isin(filt.statuses)]
    if filt.date_from or filt.date_to:
        days = records["record_date"]
        inside = records[(days >= (_iso(filt.date_from) or "")) & (days <= (_iso(filt.date_to) or "9999"))]
        gdf = gdf[gdf[layer.link_field].isin(inside["feature_code"])]
    return gdf


def to_geojson(gdf, props: dict[str, list], gcj02: bool = False) -> dict:
    """A FeatureCollection with the fid as id and only the given properties (7 decimals: ~1 cm)."""
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if gcj02 and len(geoms):
        geoms = shapely.transform(geoms, _to_gcj)
    keys, fids = list(props), gdf.index.tolist()
    if len(geoms) and (shapely.get_type_id(geoms) == 0).all() and not shapely.is_empty(geoms).any():  # points
        coords = np.round(shapely.get_coordinates(geoms), 7).tolist()
        shapes = [{"type": "Point", "coordinates": c} for c in coords]
    else:
        geoms = shapely.set_precision(geoms, 1e-7) if len(geoms) else []
        shapes = [shapely.geometry.mapping(g) for g in geoms]
    features = [{"type": "Feature", "id": int(fid), "geometry": shape,
                 "properties": {k: props[k][i] for k in keys}}
                for i, (fid, shape) in enumerate(zip(fids, shapes))]
    return {"type": "FeatureCollection", "features": features}


def _to_gcj(coords):
    lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def layer_geojson(store: Store, layer: LayerDef, filt: MapFilter, lang: str, bbox=None, gcj02=False) -> dict:
    gdf = layer_state(store, layer, filt, bbox)
    statuses = gdf["status"].tolist() if layer.progress else [None] * len(gdf)
    names = gdf[layer.tooltip or layer.name_field].astype(str).tolist()
    return to_geojson(gdf, {"c": [layer.style.status_color(s) for s in statuses],
                            "s": statuses, "t": [escape(n) for n in names]}, gcj02)


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return str(value)


def _unit(q, lang: str) -> str:
    return f"{q.label(lang)}（{q.unit_label(lang)}）" if lang == "zh" else f"{q.label(lang)} ({q.unit_label(lang)})"


def community_names(store: Store) -> dict[str, str]:
    df = store.read("communities", columns=["code", "name"])
    return dict(zip(df["code"], df["name"]))


POPUP_TEXT = {"status": {"zh": "状态", "en": "Status"}, "percent": {"zh": "完成度", "en": "Complete"},
              "history": {"zh": "进度记录（新→旧）", "en": "Progress history (newest first)"},
              "none": {"zh": "暂无进度记录", "en": "No progress record"},
              "date": {"zh": "日期", "en": "Date"}, "note": {"zh": "说明", "en": "Note"}}


def feature_popup(store: Store, layer: LayerDef, fid: int, filt: MapFilter, lang: str,
                  public: bool = False, editable: bool = False, photos: str = "", photo_inputs: str = "") -> str | None:
    """Popup HTML for one feature: fields, state as of the filter date, dated history. All escaped.
    ``public`` leaves out fields marked private (personal data). ``photos`` (the progress photos)
    ends the history and ``photo_inputs`` joins the progress form: HTML made by the caller."""
    gdf = store.read(layer.id, where={"fid": int(fid)})
    if gdf.empty:
        return None
    row = gdf.iloc[0].to_dict()
    names = community_names(store)
    rows = [(f.title.get(lang), names.get(row.get(f.name), row.get(f.name)) if f.name == layer.community_field
             else row.get(f.name)) for f in layer.fields if f.name in layer.popup and not (public and f.private)]
    parts = [f"<h4>{escape(_fmt(row.get(layer.name_field)))}</h4>"]
    if layer.progress:
        records = store.progress(layer.id, until=filt.as_of)
        hist = history(records, layer.id, str(row[layer.link_field]))
        if hist.empty:
            rows.append((POPUP_TEXT["status"][lang], POPUP_TEXT["none"][lang]))
        else:
            last = hist.iloc[0]
            rows.append((POPUP_TEXT["status"][lang], STATUSES[last["status"]][lang]))
            rows.append((POPUP_TEXT["percent"][lang], f"{_fmt(last['percent'])}%"))
            rows += [(_unit(q, lang), last[q.key]) for q in layer.quantities]
    parts.append("<table>" + "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(_fmt(v))}</td></tr>"
                                     for k, v in rows) + "</table>")
    if layer.progress and not hist.empty:
        parts.append(_history_html(layer, hist, lang, photos))
    if layer.progress and editable:
        parts.append(progress_form(layer, int(fid), hist.iloc[0].to_dict() if not hist.empty else None, lang,
                                   photo_inputs))
    return '<div class="gis-popup">' + "".join(parts) + "</div>"


FORM_TEXT = {"add": {"zh": "添加进度记录", "en": "Add a progress record"}, "save": {"zh": "保存", "en": "Save"},
             "date": {"zh": "日期", "en": "Date"}, "note": {"zh": "说明（状态倒退须说明原因）",
                                                       "en": "Note (a reason when the status goes back)"}}


def progress_form(layer: LayerDef, fid: int, last: dict | None, lang: str, extra: str = "") -> str:
    """The form a handler fills in a popup; the page script posts it to /api/progress."""
    def field(label, html):
        return f"<label>{escape(label)} {html}</label>"
    options = "".join(f'<option value="{k}"{" selected" if last and last["status"] == k else ""}>{escape(v[lang])}</option>'
                      for k, v in STATUSES.items())
    inputs = [field(FORM_TEXT["date"][lang], f'<input type="date" name="record_date" value="{dt.date.today()}" required>'),
              field(POPUP_TEXT["status"][lang], f'<select name="status">{options}</select>'),
              field(POPUP_TEXT["percent"][lang] + " (%)",
                    f'<input type="number" name="percent" min="0" max="100" step="any" value="{_val(last, "percent")}">')]
    for q in layer.quantities:
        inputs.append(field(_unit(q, lang), f'<input type="number" name="{q.key}" min="0" step="any" '
                                            f'value="{_val(last, q.key)}">'))
    inputs.append(field(FORM_TEXT["note"][lang], '<input type="text" name="note" maxlength="1000">'))
    return (f'<details class="gis-progress-form"><summary>{escape(FORM_TEXT["add"][lang])}</summary>'
            f'<form data-layer="{layer.id}" data-fid="{fid}">{"".join(inputs)}{extra}'
            f'<button type="submit">{escape(FORM_TEXT["save"][lang])}</button><p class="gis-form-msg" role="status"></p>'
            f'</form></details>')


def _val(last: dict | None, key: str) -> str:
    value = None if last is None else last.get(key)
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{float(value):g}"


def _history_html(layer: LayerDef, hist: pd.DataFrame, lang: str, extra: str = "") -> str:
    head = [POPUP_TEXT["date"][lang], POPUP_TEXT["status"][lang], "%"] + [q.label(lang) for q in layer.quantities] \
        + [POPUP_TEXT["note"][lang]]
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in
                         [r["record_date"], STATUSES[r["status"]][lang], r["percent"],
                          *[r[q.key] for q in layer.quantities], r["note"]]) + "</tr>"
        for _, r in hist.iterrows())
    return (f'<details class="gis-history" open><summary>{escape(POPUP_TEXT["history"][lang])}</summary>'
            f'<table><tr>{"".join(f"<th>{escape(h)}</th>" for h in head)}</tr>{body}</table>{extra}</details>')


# --- field reports -----------------------------------------------------------------

def report_where(filt: MapFilter) -> dict:
    where: dict = {}
    if filt.community:
        where["community_code"] = filt.community
    upper = min([d for d in (filt.date_to, filt.as_of) if d], default=None)
    span = {}
    if filt.date_from:
        span[">="] = filt.date_from.isoformat()
    if upper:
        span["<="] = upper.isoformat() + "T23:59:59Z"
    if span:
        where["reported_at"] = span
    return where


def reports_geojson(store: Store, filt: MapFilter, lang: str, bbox=None, gcj02=False) -> dict:
    """Report points in the view, or grid clusters when there are more than MAX_POINTS."""
    where = report_where(filt)
    box = bbox or (-180.0, -90.0, 180.0, 90.0)
    if store.count(REPORTS, where=where, bbox=box, limit=MAX_POINTS + 1) > MAX_POINTS:
        cells = store.cluster(REPORTS, box, max(box[2] - box[0], box[3] - box[1]) / CLUSTER_GRID, where)
        gdf = gpd.GeoDataFrame(cells.set_index("fid"), geometry=shapely.points(cells["x"], cells["y"]), crs=4326)
        return to_geojson(gdf, {"n": cells["n"].astype(int).tolist()}, gcj02) | {"clustered": True}
    gdf = store.read(REPORTS, where=where, bbox=bbox, columns=REPORT_FIELDS)
    as_of = (filt.as_of.isoformat() + "T23:59:59Z") if filt.as_of else None
    closed = [isinstance(c, str) and (as_of is None or c <= as_of) for c in gdf["closed_at"].tolist()]
    labels = {c: escape(CATEGORIES.get(c, {}).get(lang, c)) for c in set(gdf["category"].tolist())}
    return to_geojson(gdf, {
        "c": ["#7e57c2" if x else "#e91e63" for x in closed],
        "t": [labels[c] for c in gdf["category"].tolist()],
        "s": ["closed" if x else "open" for x in closed],
    }, gcj02) | {"clustered": False}


def report_popup(store: Store, fid: int, lang: str) -> str | None:
    gdf = store.read(REPORTS, where={"fid": int(fid)}, columns=REPORT_FIELDS + ["description"])
    if gdf.empty:
        return None
    r = gdf.iloc[0]
    names = community_names(store)
    rows = [({"zh": "类别", "en": "Category"}[lang], CATEGORIES.get(r["category"], {}).get(lang, r["category"])),
            ({"zh": "状态", "en": "State"}[lang], REPORT_STATES.get(r["status"], {}).get(lang, r["status"])),
            ({"zh": "社区", "en": "Community"}[lang], names.get(r["community_code"], r["community_code"])),
            ({"zh": "上报时间", "en": "Reported"}[lang], str(r["reported_at"])[:16].replace("T", " ")),
            ({"zh": "结案时间", "en": "Closed"}[lang],
             r["closed_at"][:16].replace("T", " ") if isinstance(r["closed_at"], str) else "—"),
            ({"zh": "描述", "en": "Description"}[lang], r["description"])]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(_fmt(v))}</td></tr>" for k, v in rows)
    from .reports.popup import popup_extra  # photo thumbnails, workflow transitions, link to the report page
    extra = popup_extra(store, str(r["code"]), lang)
    return f'<div class="gis-popup"><h4>{escape(str(r["code"]))}</h4><table>{cells}</table>{extra}</div>'


# --- search ----------------------------------------------------------------------

def search(store: Store, text: str, lang: str, limit: int = 20, public: bool = False) -> list[dict]:
    """Features whose name contains the text, across layers (works and areas first)."""
    text = text.strip()[:50]
    if not text:
        return []
    out = []
    layers = [l for l in store.registry if l.public or not public]
    for layer in sorted(layers, key=lambda l: (l.kind != "work", l.order)):
        gdf = store.read(layer.id, where={layer.name_field: {"contains": text}},
                         columns=[layer.name_field], limit=limit - len(out))
        for fid, name, geom in zip(gdf.index, gdf[layer.name_field], gdf.geometry):
            out.append({"layer": layer.id, "layer_title": layer.title.get(lang), "fid": int(fid),
                        "name": name, "bbox": [round(v, 7) for v in geom.bounds]})
        if len(out) >= limit:
            break
    return out
