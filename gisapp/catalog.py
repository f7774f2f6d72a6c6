"""The catalog of feature collections: one per layer of the registry plus the
field reports. Plain Python, shared by the OGC API, the exports and the
OpenAPI document.

Extents (spatial from the data, temporal from progress records or report
dates) are computed once per data version and kept in memory (tipg style).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely

from .errors import NotFound
from .registry import FieldDef, LayerDef, Registry, Title
from .storage import Store
from .vocab import CATEGORIES, QUANTITIES, REPORT_SOURCES, REPORT_STATES, STATUSES

REPORTS = "reports"
STATE_FIELDS = ("status", "percent", "status_date")
RESERVED_PARAMS = {"f", "lang", "bbox", "limit", "offset", "datetime"}
EXTRA_LABELS = {"id": Title(zh="要素编号", en="Feature id"), "status": Title(zh="状态", en="Status"), "percent": Title(zh="完成度", en="Complete"),
                "status_date": Title(zh="更新日期", en="Updated")}


def _f(name: str, type_: str, zh: str, en: str, private: bool = False) -> FieldDef:
    return FieldDef(name=name, type=type_, title=Title(zh=zh, en=en), private=private)


REPORT_FIELDS = (
    _f("code", "text", "编号", "Code"),
    _f("category", "text", "问题类别", "Category"),
    _f("description", "text", "问题描述", "Description"),
    _f("status", "text", "办理状态", "Status"),
    _f("source", "text", "来源", "Source"),
    _f("community_code", "text", "所属社区", "Community"),
    _f("reported_at", "datetime", "上报时间", "Reported at"),
    _f("closed_at", "datetime", "结案时间", "Closed at"),
    _f("reporter", "text", "上报人", "Reporter", private=True),
)
REPORT_ENUMS = {"category": list(CATEGORIES), "status": list(REPORT_STATES), "source": list(REPORT_SOURCES)}
REPORT_TITLE = Title(zh="问题上报", en="Field reports")
REPORT_DESCRIPTION = Title(zh="网格员上报、督查发现和群众反映的问题",
                           en="Problems found in the field, by inspection or raised by residents")


@dataclass(frozen=True)
class Collection:
    """A feature collection: a registry layer, or the field reports."""

    id: str
    title: Title
    description: Title | None
    geometry: str
    fields: tuple[FieldDef, ...]
    layer: LayerDef | None = None  # None for the reports
    public: bool = True

    @property
    def progress(self) -> bool:
        return bool(self.layer and self.layer.progress)

    @property
    def quantities(self) -> list[str]:
        return self.layer.quantity_keys if self.layer else []

    @property
    def link_field(self) -> str:
        return self.layer.link_field if self.layer else "code"

    @property
    def time_field(self) -> str | None:
        """The stored date-time column `datetime` filters on (reports only)."""
        return "reported_at" if self.layer is None else None

    @property
    def community_column(self) -> str | None:
        """The column holding a community code (the communities layer: its own code)."""
        if self.layer is None:
            return "community_code"
        return "code" if self.id == "communities" else self.layer.community_field

    def visible_fields(self, include_private: bool) -> list[FieldDef]:
        return [f for f in self.fields if include_private or not f.private]

    def columns(self, include_private: bool) -> list[str]:
        return [f.name for f in self.visible_fields(include_private)]

    def property_types(self, include_private: bool) -> dict[str, str]:
        """Output property -> field type (text integer real date datetime boolean)."""
        types = {f.name: f.type for f in self.visible_fields(include_private)}
        if self.progress:
            types.update(status="text", percent="real", status_date="date")
            types.update({q: "real" for q in self.quantities})
        return types

    def enums(self) -> dict[str, list[str]]:
        """Properties with a fixed vocabulary."""
        if self.layer is None:
            return REPORT_ENUMS
        return {"status": list(STATUSES)} if self.progress else {}

    def filterable(self, include_private: bool) -> dict[str, str]:
        """Query parameters accepted as equality filters: name -> type (fields named
        like a standard parameter cannot be filtered on)."""
        types = {f.name: f.type for f in self.visible_fields(include_private) if f.name not in RESERVED_PARAMS}
        if self.progress:
            types["status"] = "text"
        return types

    def label(self, name: str, lang: str) -> str:
        for f in self.fields:
            if f.name == name:
                return f.title.get(lang)
        if name in QUANTITIES and self.layer:
            return next(q.label(lang) for q in self.layer.quantities if q.key == name)
        return EXTRA_LABELS[name].get(lang) if name in EXTRA_LABELS else name


def layer_collection(layer: LayerDef) -> Collection:
    return Collection(layer.id, layer.title, layer.description, layer.geometry, layer.fields, layer, layer.public)


REPORTS_COLLECTION = Collection(REPORTS, REPORT_TITLE, REPORT_DESCRIPTION, "Point", REPORT_FIELDS)


@lru_cache(maxsize=16)
def _collections(registry: Registry) -> tuple[Collection, ...]:
    return (*(layer_collection(layer) for layer in registry), REPORTS_COLLECTION)


def all_collections(registry: Registry, include_private: bool = True) -> list[Collection]:
    """Every collection the view may see: public layers only in the public view."""
    return [c for c in _collections(registry) if include_private or c.public]


def get_collection(registry: Registry, cid: str, include_private: bool = True) -> Collection:
    for coll in all_collections(registry, include_private):
        if coll.id == cid:
            return coll
    raise NotFound({"zh": f"没有这个数据集：{cid[:60]}", "en": f"no such collection: {cid[:60]}"})


# --- extents -----------------------------------------------------------------
_extents: dict[tuple[str, int], dict[str, dict]] = {}
_lock = threading.Lock()


def _compute_extent(store: Store, coll: Collection) -> dict:
    """Bounds and time span from indexes: a few hundred rows read, whatever the collection's size."""
    out: dict = {}
    box = exact_bounds(store, coll.id)
    if box is not None:
        out["spatial"] = {"bbox": [[round(float(v), 7) for v in box]],
                          "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}
    first = last = None
    if coll.time_field:
        first, last = store.span(coll.id, coll.time_field)
    elif coll.progress:
        first, last = store.span("progress", "record_date", where={"layer": coll.id})
    if first is not None:
        out["temporal"] = {"interval": [[_instant(str(first)), _instant(str(last))]],
                           "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return out


EDGE = 1e-4  # degrees (~10 m): many float32 steps, so the index's box edges lie within it


def exact_bounds(store: Store, table: str) -> tuple[float, float, float, float] | None:
    """The exact bounds of a table's geometries. The spatial index gives a box whose edges lie
    within float32 steps of the data's; the geometries that set each edge meet a strip EDGE wide
    along it, so only those strips are read."""
    box = store.bounds(table)
    if box is None:
        return None
    minx, miny, maxx, maxy = box
    strips = ((minx, miny, minx + EDGE, maxy), (minx, miny, maxx, miny + EDGE),
              (maxx - EDGE, miny, maxx, maxy), (minx, maxy - EDGE, maxx, maxy))
    geoms = [store.read(table, bbox=strip, columns=[]).geometry.to_numpy() for strip in strips]
    b = shapely.bounds(np.concatenate(geoms))
    if not len(b) or np.isnan(b).all():
        return None
    return (float(np.nanmin(b[:, 0])), float(np.nanmin(b[:, 1])), float(np.nanmax(b[:, 2])), float(np.nanmax(b[:, 3])))


def _instant(value: str) -> str:
    """An RFC 3339 date-time for a stored date or date-time."""
    return value if "T" in value else value + "T00:00:00Z"


def extent(store: Store, coll: Collection) -> dict:
    """The collection's extent, recomputed only when the data version changes."""
    key = (store.url, store.data_version())
    with _lock:
        cached = _extents.get(key, {}).get(coll.id)
    if cached is not None:
        return cached
    value = _compute_extent(store, coll)
    with _lock:
        for old in [k for k in _extents if k[0] == store.url and k != key]:
            del _extents[old]
        _extents.setdefault(key, {})[coll.id] = value
    return value
