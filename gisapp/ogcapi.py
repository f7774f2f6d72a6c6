"""OGC API - Features, Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0): plain functions.

No Flask here (pygeoapi style): each function takes the store, the request's
query parameters and a :class:`Ctx` (base URL, language, view) and returns
plain data; ``gisapp.web.ogcapi`` turns it into a response. Everything a
client sends is validated here; bad input raises :class:`BadRequest` or
:class:`NotFound` with a Chinese and an English message.

``datetime`` (documented in docs/ogcapi.md):

- layers with progress: an instant D gives each feature's state on D and keeps
  the features with a progress record on or before D; an interval A/B keeps
  the features with a record dated within it, in their state at B;
- reports: ``reported_at`` is the temporal property (a date means that day);
- other layers carry no dates: ``datetime`` is checked and has no effect.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from urllib.parse import urlencode

from .catalog import Collection, all_collections, extent, get_collection
from .errors import BadRequest, NotFound
from .featureindex import FeatureIndexes, servable
from .geojson import GEOJSON, features
from .query import Query, get_feature, run
from .storage import Store

CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
CONFORMANCE = [CONF + c for c in ("core", "geojson", "html", "oas30")]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"
JSON, HTML = "application/json", "text/html"
DEFAULT_LIMIT, MAX_LIMIT = 10, 10_000
COMMON_PARAMS = ("f", "lang")
ITEMS_PARAMS = ("bbox", "limit", "offset", "datetime")
FORMATS = {"json": JSON, "geojson": GEOJSON, "html": HTML}
INT64 = 2**63


@dataclass
class Ctx:
    """What a view needs from the request: where the API lives, language, view."""

    base: str  # absolute URL of the landing page, no trailing slash
    api_doc: str = ""  # absolute URL of the OpenAPI document
    lang: str = "zh"
    include_private: bool = True  # False: the public view (no private fields or layers)
    fmt: str = "json"  # json | html: the representation being answered
    keep: dict = field(default_factory=dict)  # parameters every link keeps (lang)

    def url(self, path: str = "", **params) -> str:
        query = {**params, **self.keep}
        return self.base + (path or "/") + ("?" + urlencode(query) if query else "")

    def pair(self, path: str, rel_json: str = "self", json_type: str = JSON, title: str = "", **params) -> list[dict]:
        """A self/alternate pair of links (JSON and HTML) for one resource."""
        links = [{"rel": rel_json, "type": json_type, "title": title or "JSON", "href": self.url(path, f="json", **params)},
                 {"rel": "alternate", "type": HTML, "title": "HTML", "href": self.url(path, f="html", **params)}]
        if self.fmt == "html":
            links[0]["rel"], links[1]["rel"] = "alternate", rel_json
        return links


def _bad(zh: str, en: str):
    raise BadRequest({"zh": zh, "en": en})


# --- parameters ----------------------------------------------------------------
def check_params(args, allowed) -> dict[str, str]:
    """The query parameters as a dict; unknown or repeated ones are refused."""
    out = {}
    for name in args:
        values = args.getlist(name) if hasattr(args, "getlist") else [args[name]]
        if name not in allowed:
            _bad(f"不支持的参数：{name[:40]}（可用：{', '.join(sorted(allowed))}）",
                 f"unknown parameter: {name[:40]} (accepted: {', '.join(sorted(allowed))})")
        if len(values) > 1:
            _bad(f"参数 {name} 只能给一次", f"parameter {name} given more than once")
        out[name] = values[0]
    return out


def parse_format(value: str | None) -> str:
    if value is None or value in FORMATS:
        return "html" if value == "html" else "json"
    _bad(f"参数 f 应为 json 或 html：{value[:20]}", f"parameter f must be json or html: {value[:20]}")


def parse_int(value: str, name: str, minimum: int) -> int:
    try:
        n = int(value.strip())
    except ValueError:
        n = None
    if n is None or n < minimum:
        _bad(f"参数 {name} 应为不小于 {minimum} 的整数：{value[:40]}",
             f"parameter {name} must be an integer >= {minimum}: {value[:40]}")
    return n


def parse_limit(value: str | None) -> int:
    """1…MAX_LIMIT; larger values are served as MAX_LIMIT (OGC API - Features, /req/core/fc-limit-response)."""
    return DEFAULT_LIMIT if value is None else min(parse_int(value, "limit", 1), MAX_LIMIT)


def _number(text: str, name: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        _bad(f"参数 {name} 含有无效数字：{text[:40]}", f"parameter {name} holds an invalid number: {text[:40]}")
    return v


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """minx,miny,maxx,maxy (or 6 numbers with heights) in CRS84; minx > maxx crosses the antimeridian."""
    if value is None:
        return None
    parts = value.split(",")
    if len(parts) not in (4, 6):
        _bad("参数 bbox 应为 4 个（或 6 个）逗号分隔的数字", "parameter bbox must be 4 (or 6) comma-separated numbers")
    nums = [_number(p, "bbox") for p in parts]
    minx, miny, maxx, maxy = nums if len(nums) == 4 else (nums[0], nums[1], nums[3], nums[4])
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        _bad("参数 bbox 超出经纬度范围，或下边界大于上边界",
             "parameter bbox is outside longitude/latitude limits, or its lower edge is above its upper edge")
    return minx, miny, maxx, maxy


def _instant(text: str) -> dt.date | dt.datetime | None:
    """A date, an aware date-time (UTC), or None for an open end ('..' or empty)."""
    if text in ("..", ""):
        return None
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        if "T" not in text.upper():
            raise ValueError
        value = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        _bad(f"参数 datetime 不是 RFC 3339 日期或时间：{text[:40]}",
             f"parameter datetime is not an RFC 3339 date or date-time: {text[:40]}")


def _day(value) -> dt.date | None:
    return value.date() if isinstance(value, dt.datetime) else value


def parse_datetime(value: str | None):
    """(start, end, is_interval): an instant gives (x, x, False); '..' or '' are open ends."""
    if value is None:
        return None
    parts = value.split("/")
    if len(parts) > 2 or (len(parts) == 1 and parts[0] in ("", "..")):
        _bad(f"参数 datetime 格式无效：{value[:40]}", f"parameter datetime is malformed: {value[:40]}")
    start, end = _instant(parts[0]), _instant(parts[-1])
    if start is not None and end is not None and _sortable(start) > _sortable(end, end=True):
        _bad("参数 datetime 的起点晚于终点", "parameter datetime starts after it ends")
    return start, end, len(parts) == 2


def _sortable(value, end: bool = False) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    t = dt.time.max if end else dt.time.min
    return dt.datetime.combine(value, t, tzinfo=dt.timezone.utc)


def _stamp(value: dt.datetime) -> str:
    """UTC date-time as the store writes it: YYYY-MM-DDTHH:MM:SSZ."""
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _next_day(day: dt.date) -> str | None:
    return None if day == dt.date.max else (day + dt.timedelta(days=1)).isoformat()


def time_query(coll: Collection, when) -> dict:
    """Query fields for a parsed ``datetime`` on this collection (see the module docstring)."""
    if when is None:
        return {}
    start, end, interval = when
    if coll.time_field:  # reports: reported_at within the instant or interval
        cond = {}
        if start is not None:
            cond[">="] = _stamp(start) if isinstance(start, dt.datetime) else start.isoformat()
        if isinstance(end, dt.datetime):
            cond["<="] = _stamp(end)
        elif end is not None and end != dt.date.max:
            cond["<"] = _next_day(end)
        return {"where": {coll.time_field: cond}} if cond else {}
    if not coll.progress:
        return {}
    if not interval:
        return {"as_of": _day(start), "require_record": True}
    out = {"as_of": _day(end)}
    return {**out, "since": _day(start)} if start is not None else ({**out, "require_record": True} if end else {})


def parse_filter(coll: Collection, name: str, text: str, type_: str):
    """The typed value of a property filter ``?name=value``."""
    enum = coll.enums().get(name)
    if enum is not None and text not in enum:
        _bad(f"参数 {name} 应为以下之一：{', '.join(enum)}", f"parameter {name} must be one of: {', '.join(enum)}")
    if type_ == "integer":
        try:
            value = int(text.strip())
        except ValueError:
            value = INT64
        if not -INT64 <= value < INT64:
            _bad(f"参数 {name} 应为整数：{text[:40]}", f"parameter {name} must be an integer: {text[:40]}")
        return value
    if type_ == "real":
        return _number(text, name)
    if type_ == "boolean":
        if text.lower() not in ("true", "false", "1", "0"):
            _bad(f"参数 {name} 应为 true 或 false", f"parameter {name} must be true or false")
        return text.lower() in ("true", "1")
    return text


def items_query(coll: Collection, params: dict[str, str], include_private: bool) -> Query:
    """A validated :class:`Query` from the (already checked) parameters of an items request."""
    filters = coll.filterable(include_private)
    where, statuses = {}, ()
    for name, type_ in filters.items():
        if name in params:
            value = parse_filter(coll, name, params[name], type_)
            if name == "status" and coll.progress:
                statuses = (value,)
            else:
                where[name] = value
    timed = time_query(coll, parse_datetime(params.get("datetime")))
    for name, cond in timed.pop("where", {}).items():
        if name in where:
            _bad(f"参数 datetime 与 {name} 不能同时使用", f"parameters datetime and {name} cannot be combined")
        where[name] = cond
    return Query(bbox=parse_bbox(params.get("bbox")), where=where, statuses=statuses,
                 limit=parse_limit(params.get("limit")), offset=parse_int(params.get("offset", "0"), "offset", 0),
                 **timed)


def allowed_item_params(coll: Collection, include_private: bool) -> set[str]:
    return {*COMMON_PARAMS, *ITEMS_PARAMS, *coll.filterable(include_private)}


# --- documents -------------------------------------------------------------------
def landing(ctx: Ctx) -> dict:
    zh = ctx.lang != "en"
    return {
        "title": "富世街道创文工作地图 · OGC API" if zh else "Fushi Subdistrict campaign map · OGC API",
        "description": ("图层、进度和问题上报（OGC API – Features）" if zh
                        else "Layers, progress and field reports (OGC API – Features)"),
        "links": [
            *ctx.pair(""),
            {"rel": "service-desc", "type": OPENAPI_TYPE, "title": "OpenAPI 3.0", "href": ctx.api_doc},
            {"rel": "conformance", "type": JSON, "title": "Conformance", "href": ctx.url("/conformance", f="json")},
            {"rel": "data", "type": JSON, "title": "Collections", "href": ctx.url("/collections", f="json")},
        ],
    }


def conformance(ctx: Ctx) -> dict:
    return {"conformsTo": CONFORMANCE, "links": ctx.pair("/conformance")}


def collection_doc(store: Store, coll: Collection, ctx: Ctx) -> dict:
    """A collection's metadata without links: id, title, extent from the data."""
    doc = {"id": coll.id, "title": coll.title.get(ctx.lang), "itemType": "feature", "crs": [CRS84]}
    if coll.description:
        doc["description"] = coll.description.get(ctx.lang)
    ext = extent(store, coll)
    return doc | ({"extent": ext} if ext else {})


def _items_links(coll: Collection, ctx: Ctx) -> list[dict]:
    path = f"/collections/{coll.id}/items"
    return [{"rel": "items", "type": GEOJSON, "title": "GeoJSON", "href": ctx.url(path, f="json")},
            {"rel": "items", "type": HTML, "title": "HTML", "href": ctx.url(path, f="html")}]


def collections(store: Store, ctx: Ctx) -> dict:
    out = []
    for coll in all_collections(store.registry, ctx.include_private):
        link = {"rel": "self", "type": JSON, "title": coll.title.get(ctx.lang),
                "href": ctx.url(f"/collections/{coll.id}", f="json")}
        out.append(collection_doc(store, coll, ctx) | {"links": [link, *_items_links(coll, ctx)]})
    return {"collections": out, "links": ctx.pair("/collections")}


def collection(store: Store, cid: str, args, ctx: Ctx) -> dict:
    coll = get_collection(store.registry, cid, ctx.include_private)
    check_params(args, COMMON_PARAMS)
    return collection_doc(store, coll, ctx) | {"links": ctx.pair(f"/collections/{cid}") + _items_links(coll, ctx)}


def _page(store: Store, coll: Collection, q: Query, ctx: Ctx, indexes: FeatureIndexes | None) -> tuple[list, int]:
    """(features, number matched): from the in-memory index when it can answer, else the store."""
    index = indexes.get(store, coll, ctx.include_private) if indexes and ctx.fmt == "json" and servable(q) else None
    if index is not None:
        return index.page(q)
    result = run(store, coll, q, ctx.include_private)
    return features(result.frame, coll.property_types(ctx.include_private), with_geometry=ctx.fmt != "html"), \
        result.matched


def items(store: Store, cid: str, args, ctx: Ctx, indexes: FeatureIndexes | None = None) -> dict:
    """A FeatureCollection page with numberMatched/numberReturned and self/next/prev links."""
    coll = get_collection(store.registry, cid, ctx.include_private)
    params = check_params(args, allowed_item_params(coll, ctx.include_private))
    q = items_query(coll, params, ctx.include_private)
    feats, matched = _page(store, coll, q, ctx, indexes)
    echo = {k: v for k, v in params.items() if k not in ("f", "lang", "offset", "limit")}
    path = f"/collections/{cid}/items"
    links = ctx.pair(path, json_type=GEOJSON, **echo, limit=q.limit, offset=q.offset)
    if q.offset + q.limit < matched:
        links.append({"rel": "next", "type": GEOJSON, "title": "next page",
                      "href": ctx.url(path, f=ctx.fmt, **echo, limit=q.limit, offset=q.offset + q.limit)})
    if q.offset > 0:
        links.append({"rel": "prev", "type": GEOJSON, "title": "previous page",
                      "href": ctx.url(path, f=ctx.fmt, **echo, limit=q.limit, offset=max(0, min(q.offset, matched) - q.limit))})
    links.append({"rel": "collection", "type": JSON, "title": coll.title.get(ctx.lang), "href": ctx.url(f"/collections/{cid}", f="json")})
    return {"type": "FeatureCollection", "features": feats, "numberMatched": matched,
            "numberReturned": len(feats), "timeStamp": _stamp(dt.datetime.now(dt.timezone.utc)), "links": links}


def parse_fid(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < INT64 else None


def item(store: Store, cid: str, fid_text: str, args, ctx: Ctx) -> dict:
    """One Feature by its id (the fid), with its latest progress state."""
    coll = get_collection(store.registry, cid, ctx.include_private)
    check_params(args, COMMON_PARAMS)
    fid = parse_fid(fid_text)
    frame = get_feature(store, coll, fid, ctx.include_private) if fid is not None else None
    if frame is None or frame.empty:
        raise NotFound({"zh": f"{coll.title.zh}中没有编号为 {fid_text[:40]} 的要素",
                        "en": f"{coll.title.en} has no feature {fid_text[:40]}"})
    feat = features(frame, coll.property_types(ctx.include_private))[0]
    path = f"/collections/{cid}/items/{fid}"
    feat["links"] = ctx.pair(path, json_type=GEOJSON) + [
        {"rel": "collection", "type": JSON, "title": coll.title.get(ctx.lang), "href": ctx.url(f"/collections/{cid}", f="json")}]
    return feat
