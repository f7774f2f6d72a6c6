"""A new field report: position, area check, assignment, duplicate check, and one
store transaction with the photos written around it (see :mod:`.files`)."""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import shapely

from ..errors import Conflict, ValidationFailed
from ..storage import Store
from ..vocab import CATEGORIES, POSITION_SOURCES
from . import Settings
from .assign import assign_one, load_areas
from .common import BEIJING, fail, now as utc_now, stamp
from .duplicates import find_duplicate
from .files import PhotoFiles, Staged, save_with_files
from .images import Photo

REPORTS, PHOTOS, EVENTS = "reports", "report_photos", "report_events"
CODE_PREFIX = "SB"  # 上报
MAX_DESCRIPTION = 2000


@dataclass(frozen=True)
class Position:
    lon: float
    lat: float
    source: str  # geolocation | exif | map | import
    accuracy_m: float | None = None


def _number(form, name: str) -> float | None:
    raw = (form.get(name) or "").strip() if isinstance(form.get(name), str) else form.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        fail(ValidationFailed, f"参数 {name} 不是数字", f"{name} is not a number")
    if not math.isfinite(value):
        fail(ValidationFailed, f"参数 {name} 不是有效数字", f"{name} is not a finite number")
    return value


def choose_position(form, photos: list[Photo]) -> Position | None:
    """Geolocation or a map tap sent by the client, else the first photo with EXIF GPS."""
    lat = _number(form, "lat")
    lon = _number(form, "long" if form.get("long") not in (None, "") else "lon")  # Open311 says "long"
    source = (form.get("position_source") or "").strip()
    if source and source not in POSITION_SOURCES:
        fail(ValidationFailed, f"未知的位置来源：{source[:20]}", f"unknown position source: {source[:20]}")
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        fail(ValidationFailed, "经纬度超出范围", "latitude/longitude out of range")
    if lat is not None and lon is not None and source in ("geolocation", "map"):
        return Position(lon, lat, source, _number(form, "accuracy") if source == "geolocation" else None)
    for photo in photos:
        if photo.meta.has_position and not photo.meta.gps_void:
            return Position(photo.meta.lon, photo.meta.lat, "exif", photo.meta.accuracy_m)
    if lat is not None and lon is not None:
        return Position(lon, lat, source or "map", _number(form, "accuracy"))
    return None


def check_category(value) -> str:
    value = (value or "").strip()
    if value not in CATEGORIES:
        fail(ValidationFailed, "请选择问题类别", "choose a problem category")
    return value


def check_feature_link(store: Store, layer_id, code) -> tuple[str | None, str | None]:
    """An optional link to a work feature (a lane, a compound…): both given and existing."""
    layer_id, code = (layer_id or "").strip() or None, (code or "").strip() or None
    if not layer_id and not code:
        return None, None
    if not layer_id or not code or layer_id not in store.registry or store.registry.get(layer_id).kind != "work":
        fail(ValidationFailed, "关联的工作对象无效", "the linked work feature is not valid")
    layer = store.registry.get(layer_id)
    if not store.count(layer_id, where={layer.link_field: code}):
        fail(ValidationFailed, f"{layer.title.zh}中没有编号 {code[:40]}", f"{layer.title.en} has no feature {code[:40]}")
    return layer_id, code


def next_code(store: Store, when: dt.datetime) -> str:
    """SByyyymmddNNNN (Beijing date); read inside the write transaction."""
    prefix = f"{CODE_PREFIX}{when.astimezone(BEIJING):%Y%m%d}"
    span = {">=": prefix, "<": prefix + "~"}  # a range on the code's unique index, not a scan of every report
    codes = store.read(REPORTS, where={"code": span}, columns=["code"], geometry=False)["code"]
    numbers = [int(c[len(prefix):]) for c in codes if c.startswith(prefix) and c[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


def photo_rows(code: str, staged: list[Staged], kind: str, actor: str, when: dt.datetime) -> pd.DataFrame:
    rows = []
    for item in staged:
        p, meta = item.photo, item.photo.meta
        rows.append({"report_code": code, "kind": kind, "original_path": item.paths["original"],
                     "display_path": item.paths["display"], "thumb_path": item.paths["thumb"], "sha256": p.sha256,
                     "content_type": p.content_type, "bytes": len(p.original), "width": p.width, "height": p.height,
                     "taken_at": stamp(meta.taken_at) if meta.taken_at else stamp(when),
                     "taken_at_source": meta.taken_at_source or "upload",
                     "exif_lat": meta.lat, "exif_lon": meta.lon, "exif_alt": meta.alt,
                     "uploaded_by": actor, "uploaded_at": stamp(when)})
    return pd.DataFrame(rows)


def event_row(code, actor, action, when, from_status=None, to_status=None, target=None, note=None) -> dict:
    return {"report_code": code, "at": stamp(when), "actor": actor, "action": action, "from_status": from_status,
            "to_status": to_status, "target": target, "note": note}


def _record(form_values: dict, pos: Position, assigned: dict, dup: dict | None, actor: str,
            when: dt.datetime, settings: Settings) -> dict:
    return {**form_values, "status": "reported", "reported_at": stamp(when), "updated_at": stamp(when),
            "due_at": stamp(when + dt.timedelta(days=settings.due_days)), "reporter": actor,
            "position_source": pos.source, "accuracy_m": pos.accuracy_m,
            **{k: v for k, v in assigned.items() if k != "inside"},
            "duplicate_of": dup["code"] if dup else None, "duplicate_state": "suspected" if dup else None}


def outside_message(areas, lon: float, lat: float, margin: float) -> dict:
    name = areas.area_name or "街道"
    return {"zh": f"位置（{lat:.6f}, {lon:.6f}）不在{name}范围内（含 {margin:g} 米容差），请确认定位或在地图上重新选点",
            "en": f"the position ({lat:.6f}, {lon:.6f}) is outside {name} (margin {margin:g} m); "
                  "check the location or tap the map"}


def prepare(store: Store, settings: Settings, form, photos: list[Photo], actor: str, when: dt.datetime) -> tuple[dict, Position]:
    """Everything checked and computed before writing: the report's values and position."""
    values = {"category": check_category(form.get("category") or form.get("service_code")),
              "description": (form.get("description") or "").strip()[:MAX_DESCRIPTION] or None,
              "source": "field"}
    if not photos:
        fail(ValidationFailed, "请至少拍摄或选择一张照片", "add at least one photo")
    if len(photos) > settings.max_photos:
        fail(ValidationFailed, f"照片最多 {settings.max_photos} 张", f"at most {settings.max_photos} photos")
    pos = choose_position(form, photos)
    if pos is None:
        fail(ValidationFailed, "没有位置：请允许手机定位、使用带位置信息的照片，或在地图上点选位置",
             "no position: allow location, use a photo with GPS, or tap the map")
    areas = load_areas(store, settings.lane_distance_m, settings.lane_tie_m, settings.area_margin_m)
    assigned = assign_one(areas, pos.lon, pos.lat)
    if not assigned["inside"]:
        raise ValidationFailed(outside_message(areas, pos.lon, pos.lat, settings.area_margin_m), code="outside_area")
    values["feature_layer"], values["feature_code"] = check_feature_link(store, form.get("feature_layer"),
                                                                         form.get("feature_code"))
    dup = find_duplicate(store, values["category"], pos.lon, pos.lat, when, settings.duplicate_radius_m,
                         settings.duplicate_days)
    return _record(values, pos, assigned, dup, actor, when, settings), pos


class Replayed(Exception):
    """The sender already stored this report (same ``client_key``): nothing more is written."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def client_key(form) -> str | None:
    """The sender's idempotency key: a retried upload (lost answer, app restarted) is stored once."""
    key = (form.get("client_key") or "").strip() if isinstance(form.get("client_key"), str) else ""
    if key and not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", key):
        fail(ValidationFailed, "client_key 应为 8–64 个字母、数字、- 或 _", "client_key must be 8-64 letters, digits, - or _")
    return key or None


def stored_with_key(store: Store, key: str | None, actor: str) -> str | None:
    if key is None:
        return None
    rows = store.read(REPORTS, where={"client_key": key, "reporter": actor}, columns=["code"], geometry=False)
    return str(rows["code"].iloc[0]) if len(rows) else None


def create_report(store: Store, files: PhotoFiles, settings: Settings, form, photos: list[Photo], actor: str,
                  remote_addr: str | None = None, when: dt.datetime | None = None) -> str:
    """Validate, assign and store a new report with its photos. Returns its code; a report the
    same sender already stored with the same ``client_key`` is returned as it is."""
    when = when or utc_now()
    key = client_key(form)
    done = stored_with_key(store, key, actor)
    if done is not None:
        return done
    record, pos = prepare(store, settings, form, photos, actor, when)
    record["client_key"] = key

    def write(staged: list[Staged]) -> str:
        for attempt in range(3):  # another writer may take the same code (PostGIS); try the next
            try:
                return _insert(store, record, pos, staged, actor, when, remote_addr)
            except Conflict:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    try:
        return save_with_files(files, photos, write, lambda code: delete_report(store, code, actor))
    except Replayed as replay:  # the same upload arrived twice at once: the staged files are discarded
        return replay.code


def _insert(store: Store, record: dict, pos: Position, staged, actor, when, remote_addr) -> str:
    with store.writer(actor, remote_addr) as w:
        done = stored_with_key(store, record.get("client_key"), actor)  # inside the write lock: no race
        if done is not None:
            raise Replayed(done)
        code = next_code(store, when)
        row = gpd.GeoDataFrame([{**record, "code": code}], geometry=[shapely.Point(pos.lon, pos.lat)], crs=4326)
        w.insert(REPORTS, row, summary=f"report {code} ({record['category']})")
        w.insert(PHOTOS, photo_rows(code, staged, "before", actor, when), summary=f"{len(staged)} photos of {code}")
        events = [event_row(code, actor, "report", when, None, "reported")]
        if record["duplicate_of"]:
            events.append(event_row(code, actor, "flag_duplicate", when, "reported", "reported",
                                    target=record["duplicate_of"]))
        w.insert(EVENTS, pd.DataFrame(events), summary=f"events of {code}")
    return code


def delete_report(store: Store, code: str, actor: str) -> None:
    """Remove a report with its photo and event rows (undo of a failed upload)."""
    with store.writer(actor) as w:
        for table, column in ((PHOTOS, "report_code"), (EVENTS, "report_code"), (REPORTS, "code")):
            for fid in store.read(table, where={column: code}, columns=[column], geometry=False).index:
                w.delete(table, int(fid))
