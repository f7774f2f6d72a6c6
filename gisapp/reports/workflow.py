"""The rectification workflow after GB/T 30428, and the other changes to a report.

上报 reported → 立案 accepted → 派遣 dispatched → 处置 rectified → 核查 verified → 结案 closed;
verification can send a case back to dispatched. Every change is one store
transaction that updates the report and appends a ``report_events`` row (who,
when, from, to, note). The report's state is read again inside the transaction,
so two handlers acting at once cannot both move it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..auth import User
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..storage import Store
from ..vocab import REPORT_ACTIONS, REPORT_STATES
from . import Settings
from .assign import to_metric
from .common import clean, fail, local_text, now as utc_now, parse_stamp, stamp
from .files import PhotoFiles, Staged, save_with_files
from .images import Photo
from .service import EVENTS, PHOTOS, REPORTS, _number, check_category, check_feature_link, event_row, photo_rows

OPEN = ("reported", "accepted", "dispatched", "rectified", "verified")
# action -> (states it starts from, state it leads to; None: unchanged)
TRANSITIONS = {
    "accept": (("reported",), "accepted"),
    "reject": (("reported",), "closed"),
    "dispatch": (("accepted", "dispatched"), "dispatched"),
    "rectify": (("dispatched",), "rectified"),
    "verify": (("rectified",), "verified"),
    "send_back": (("rectified", "verified"), "dispatched"),
    "close": (("verified",), "closed"),
    "merge": (OPEN, "closed"),
    "dismiss_duplicate": (OPEN, None),
}
NOTE_REQUIRED = ("reject", "send_back")


@dataclass
class Change:
    """What one action asks for, as sent by a handler."""

    action: str
    note: str | None = None
    target: str | None = None  # dispatch: "community:<code>" or "unit:<name>"
    lat: float | None = None  # rectify: where the after photo was taken when its EXIF has no GPS
    lon: float | None = None


def available(row: dict) -> list[str]:
    """The actions a handler may take on a report in its current state."""
    status = row.get("status")
    out = [a for a, (starts, _) in TRANSITIONS.items() if status in starts and a not in ("merge", "dismiss_duplicate")]
    if row.get("duplicate_state") == "suspected" and status in OPEN:
        out += ["merge", "dismiss_duplicate"]
    return out


def get_report(store: Store, code: str) -> tuple[int, dict]:
    df = store.read(REPORTS, where={"code": code})
    if df.empty:
        fail(NotFound, f"没有问题记录 {code[:40]}", f"no report {code[:40]}")
    row = {k: clean(v) for k, v in df.iloc[0].to_dict().items()}
    return int(df.index[0]), row


def _state_label(status) -> str:
    return REPORT_STATES.get(status, {}).get("zh", status)


def _check_allowed(row: dict, change: Change) -> str | None:
    if change.action not in TRANSITIONS:
        fail(ValidationFailed, f"未知的操作：{change.action[:20]}", f"unknown action: {change.action[:20]}")
    starts, to = TRANSITIONS[change.action]
    if row["status"] not in starts or (change.action in ("merge", "dismiss_duplicate")
                                        and row.get("duplicate_state") != "suspected"):
        name = REPORT_ACTIONS[change.action]
        raise Conflict({"zh": f"问题 {row['code']} 当前为「{_state_label(row['status'])}」，不能{name['zh']}",
                        "en": f"report {row['code']} is {row['status']}: cannot {name['en'].lower()}"})
    if change.action in NOTE_REQUIRED and not (change.note or "").strip():
        fail(ValidationFailed, "请填写原因", "give a reason")
    return to


def dispatch_target(store: Store, target: str | None) -> tuple[str, str, str]:
    """(kind, stored value, label) of 'community:<code>' or 'unit:<name>'."""
    kind, _, value = (target or "").partition(":")
    value = value.strip()
    if kind == "community":
        names = store.read("communities", where={"code": value}, columns=["name"], geometry=False)
        if len(names):
            return kind, value, str(names.iloc[0]["name"])
    elif kind == "unit" and value and store.count("support_units", where={"name": value}):
        return kind, value, value
    fail(ValidationFailed, "请选择派遣的社区或帮挂单位", "choose the community or support unit to dispatch to")


def _values(store: Store, row: dict, change: Change, to: str | None, actor: str, when: dt.datetime) -> tuple[dict, str | None]:
    values: dict = {"updated_at": stamp(when)}
    target = None
    if to is not None:
        values["status"] = to
    if to == "closed":
        values["closed_at"] = stamp(when)
    if change.action == "accept" and not row.get("assignee"):
        values["assignee"] = actor
    if change.action == "dispatch":
        kind, value, target = dispatch_target(store, change.target)
        values.update(dispatch_kind=kind, dispatch_to=value)
    if change.action == "merge":
        values["duplicate_state"], target = "merged", row.get("duplicate_of")
    if change.action == "dismiss_duplicate":
        values["duplicate_state"], target = "dismissed", row.get("duplicate_of")
    return values, target


def check_after_photo(row: dict, geometry, photo: Photo, change: Change, settings: Settings, when: dt.datetime) -> None:
    """An 'after' photo must be taken later than the report, near its position."""
    taken = photo.meta.taken_at or when  # without a capture time the upload time counts: never before the report
    reported = parse_stamp(row["reported_at"])
    if photo.meta.taken_at is not None and taken <= reported:
        fail(ValidationFailed, f"整改后照片的拍摄时间（{local_text(stamp(taken))}）不晚于上报时间（{local_text(row['reported_at'])}）",
             f"the after photo was taken ({local_text(stamp(taken))}) before the report ({local_text(row['reported_at'])})")
    if photo.meta.has_position and not photo.meta.gps_void:
        lon, lat = photo.meta.lon, photo.meta.lat
    elif change.lat is not None and change.lon is not None:
        lon, lat = change.lon, change.lat
    else:
        fail(ValidationFailed, "整改后照片没有位置：请允许手机定位后再拍", "the after photo has no position: allow location and retake")
    x, y = to_metric([lon, geometry.x], [lat, geometry.y])
    distance = float(np.hypot(x[0] - x[1], y[0] - y[1]))
    if distance > settings.after_radius_m:
        fail(ValidationFailed, f"整改后照片的拍摄位置距问题位置 {distance:.0f} 米，超过 {settings.after_radius_m:g} 米",
             f"the after photo was taken {distance:.0f} m from the report (limit {settings.after_radius_m:g} m)")


def act(store: Store, code: str, change: Change, actor: str, settings: Settings, files: PhotoFiles | None = None,
        photos: list[Photo] | None = None, remote_addr: str | None = None, when: dt.datetime | None = None) -> dict:
    """Apply one workflow action; 'rectify' needs an after photo. Returns the updated report row."""
    when = when or utc_now()
    photos = photos or []
    fid, row = get_report(store, code)
    _check_allowed(row, change)  # early, for a clear message; checked again inside the transaction
    if change.action == "rectify":
        if not photos:
            fail(ValidationFailed, "处置需要上传整改后照片", "rectifying needs an after photo")
        geometry = store.read(REPORTS, where={"fid": fid}, columns=[]).geometry.iloc[0]
        for photo in photos:
            check_after_photo(row, geometry, photo, change, settings, when)

    def write(staged: list[Staged]):
        with store.writer(actor, remote_addr) as w:
            _, current = get_report(store, code)  # again, inside the transaction
            to_now = _check_allowed(current, change)
            values, target = _values(store, current, change, to_now, actor, when)
            w.update(REPORTS, fid, values)
            events = [event_row(code, actor, change.action, when, current["status"], to_now or current["status"],
                                target, (change.note or "").strip()[:1000] or None)]
            if change.action == "merge" and current.get("duplicate_of"):
                events.append(event_row(current["duplicate_of"], actor, "merge", when, None, None, code, events[0]["note"]))
            undo = Undo(fid, {k: current.get(k) for k in values})
            undo.events = w.insert(EVENTS, pd.DataFrame(events), summary=f"{change.action} {code}")
            if staged:
                undo.photos = w.insert(PHOTOS, photo_rows(code, staged, "after", actor, when), summary=f"after photos of {code}")
        return undo

    if photos:
        save_with_files(files, photos, write, lambda undo: undo.run(store, actor))
    else:
        write([])
    return get_report(store, code)[1]


@dataclass
class Undo:
    """What to take back when the photo files of a committed change cannot be put in place."""

    fid: int | None = None
    before: dict | None = None
    events: list[int] | None = None
    photos: list[int] | None = None

    def run(self, store: Store, actor: str) -> None:
        with store.writer(actor) as w:
            for table, fids in ((PHOTOS, self.photos), (EVENTS, self.events)):
                for fid in fids or []:
                    w.delete(table, fid)
            if self.fid is not None and self.before:
                w.update(REPORTS, self.fid, self.before)


def can_edit(user: User, row: dict) -> bool:
    """Field staff edit their own open reports; handlers and admins any open report."""
    if row["status"] == "closed":
        return False
    return user.can("handle") or (user.can("report") and row.get("reporter") == user.username)


def edit(store: Store, code: str, user: User, form, remote_addr: str | None = None,
         when: dt.datetime | None = None) -> dict:
    """Change the category, description or linked feature of an open report."""
    when = when or utc_now()
    fid, row = get_report(store, code)
    if not can_edit(user, row):
        fail(Forbidden, "只能修改本人上报且未结案的问题", "you can only edit your own open reports")
    values = {}
    if "category" in form:
        values["category"] = check_category(form.get("category"))
    if "description" in form:
        values["description"] = (form.get("description") or "").strip()[:2000] or None
    if "feature_layer" in form or "feature_code" in form:
        values["feature_layer"], values["feature_code"] = check_feature_link(store, form.get("feature_layer"),
                                                                             form.get("feature_code"))
    changed = sorted(k for k, v in values.items() if v != row.get(k))
    if not changed:
        return row
    with store.writer(user.username, remote_addr) as w:
        w.update(REPORTS, fid, {**{k: values[k] for k in changed}, "updated_at": stamp(when)})
        w.insert(EVENTS, pd.DataFrame([event_row(code, user.username, "edit", when, row["status"], row["status"],
                                                 None, ", ".join(changed))]), summary=f"edit {code}")
    return get_report(store, code)[1]


def add_photos(store: Store, files: PhotoFiles, settings: Settings, code: str, user: User, photos: list[Photo],
               remote_addr: str | None = None, when: dt.datetime | None = None) -> int:
    """More 'before' photos for an open report, by its reporter (or a handler)."""
    when = when or utc_now()
    _, row = get_report(store, code)
    if not can_edit(user, row):
        fail(Forbidden, "只能为本人上报且未结案的问题补充照片", "you can only add photos to your own open reports")
    have = store.count(PHOTOS, where={"report_code": code, "kind": "before"})
    if not photos or have + len(photos) > settings.max_photos:
        fail(ValidationFailed, f"每个问题最多 {settings.max_photos} 张照片", f"at most {settings.max_photos} photos per report")

    def write(staged):
        with store.writer(user.username, remote_addr) as w:
            undo = Undo(photos=w.insert(PHOTOS, photo_rows(code, staged, "before", user.username, when),
                                        summary=f"photos of {code}"))
            undo.events = w.insert(EVENTS, pd.DataFrame([event_row(code, user.username, "add_photo", when, row["status"],
                                                                   row["status"], None, str(len(staged)))]))
        return undo
    save_with_files(files, photos, write, lambda undo: undo.run(store, user.username))
    return len(photos)


def change_from_form(form) -> Change:
    return Change(action=(form.get("action") or "").strip(), note=form.get("note"), target=form.get("target"),
                  lat=_number(form, "lat"), lon=_number(form, "long" if form.get("long") else "lon"))
