"""Recording progress: validation of one record against the feature's history, and writing it.

Used by the map (a handler adds a record to a feature, with photos) and by spreadsheet ledgers.
"""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from . import progress_photos
from .errors import NotFound, ValidationFailed
from .registry import LayerDef
from .reports.common import now
from .reports.files import PhotoFiles, Staged, save_with_files
from .reports.images import Photo
from .storage import Store
from .storage.base import utcnow
from .vocab import QUANTITIES, STATUS_ORDER, STATUSES


def _msg(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def number(value) -> float | None:
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(value) from None
    if not math.isfinite(out):
        raise ValueError(value)
    return out


def check_record(layer: LayerDef, record: dict, previous: dict | None, today: dt.date) -> list[dict]:
    """Problems with a progress record (messages in zh and en); empty when it is fine.

    ``previous`` is the feature's latest record before this one (or None).
    """
    errors = []
    day = record.get("record_date")
    if not isinstance(day, dt.date):
        errors.append(_msg("日期无效", "the date is not valid"))
    elif day > today:
        errors.append(_msg("日期不能晚于今天", "the date is in the future"))
    if record.get("status") not in STATUSES:
        errors.append(_msg("状态无效", "unknown status"))
    try:
        pct = number(record.get("percent"))
        if pct is not None and not 0 <= pct <= 100:
            errors.append(_msg("完成度应在 0–100 之间", "percent must be within 0–100"))
    except ValueError:
        errors.append(_msg("完成度不是数字", "percent is not a number"))
    for q in layer.quantities:
        try:
            value = number(record.get(q.key))
        except ValueError:
            errors.append(_msg(f"{q.label('zh')}不是数字", f"{q.label('en')} is not a number"))
            continue
        if value is not None and value < 0:
            errors.append(_msg(f"{q.label('zh')}不能为负数（单位：{q.unit_label('zh')}）",
                               f"{q.label('en')} cannot be negative (unit: {q.unit_label('en')})"))
    extra = [k for k in QUANTITIES if k not in layer.quantity_keys and k in record]
    if any(number_or_none(record.get(k)) for k in extra):
        errors.append(_msg("该图层不记录此类数量", "this layer does not carry that quantity"))
    if previous is not None and record.get("status") in STATUSES and not errors:
        back = STATUS_ORDER.index(record["status"]) < STATUS_ORDER.index(previous["status"])
        if back and not (record.get("note") or "").strip():
            errors.append(_msg("状态倒退（如从已完工退回施工中）须在备注中说明原因",
                               "a status going backwards needs a reason in the note"))
    return errors


def number_or_none(value):
    try:
        return number(value)
    except ValueError:
        return None


def latest_record(store: Store, layer: LayerDef, code: str) -> dict | None:
    df = store.read("progress", where={"layer": layer.id, "feature_code": code}, order_by="record_date")
    return None if df.empty else df.iloc[-1].to_dict()


def feature_code(store: Store, layer: LayerDef, fid: int) -> str:
    df = store.read(layer.id, where={"fid": int(fid)}, columns=[layer.link_field], geometry=False)
    if df.empty:
        raise NotFound(_msg("要素不存在", "no such feature"))
    return str(df.iloc[0][layer.link_field])


def parse_form(layer: LayerDef, form) -> dict:
    """A record from submitted text fields (a form or JSON): date, status, percent, quantities, note."""
    raw_date = (form.get("record_date") or "").strip()
    try:
        day = dt.date.fromisoformat(raw_date) if raw_date else None
    except ValueError:
        day = None
    record = {"record_date": day, "status": form.get("status"), "percent": form.get("percent"),
              "note": (form.get("note") or "").strip()[:1000] or None}
    for q in layer.quantities:
        record[q.key] = form.get(q.key)
    return record


def add_record(store: Store, layer: LayerDef, code: str, record: dict, actor: str,
               remote_addr: str | None = None, today: dt.date | None = None,
               photos: list[Photo] = (), files: PhotoFiles | None = None) -> int:
    """Validate and store one progress record; raises ValidationFailed listing every problem.

    ``photos`` (checked by :func:`gisapp.reports.images.process`) are written to ``files`` around
    the transaction that stores the record and their rows: all of it is stored, or none of it.
    """
    if not layer.progress:
        raise ValidationFailed(_msg("该图层不记录进度", "this layer has no progress records"))
    previous = latest_record(store, layer, code)
    errors = check_record(layer, record, previous, today or dt.date.today())
    if errors:
        raise ValidationFailed({"zh": "；".join(e["zh"] for e in errors), "en": "; ".join(e["en"] for e in errors)})
    row = {"layer": layer.id, "feature_code": code, "record_date": record["record_date"],
           "status": record["status"], "percent": number(record.get("percent")), "note": record.get("note"),
           "author": actor, "created_at": utcnow(),
           **{q.key: number(record.get(q.key)) for q in layer.quantities}}
    when = now()

    def write(staged: list[Staged]) -> int:
        with store.writer(actor, remote_addr) as w:
            (fid,) = w.insert("progress", pd.DataFrame([row]), summary=f"progress {layer.id} {code}")
            if staged:
                w.insert(progress_photos.TABLE, progress_photos.photo_rows(fid, layer.id, code, staged, actor, when),
                         summary=f"{len(staged)} photos of progress {fid} ({layer.id} {code})")
        return fid

    if not photos:
        return write([])
    if files is None:
        raise ValueError("photos need a photo folder")
    return save_with_files(files, list(photos), write, lambda fid: progress_photos.delete_record(store, fid, actor))
