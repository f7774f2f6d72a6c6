"""Photos on progress records.

The files go through the field-report pipeline (:mod:`gisapp.reports.images` decodes and
checks them, :mod:`gisapp.reports.files` stages, publishes or discards them); their rows
(``progress_photos``) are written in the same store transaction as the progress record.
The popup of a feature shows them under its history, to signed-in users only.
"""
from __future__ import annotations

import datetime as dt
from html import escape
from typing import Callable

import pandas as pd

from .reports.common import stamp
from .reports.files import Staged
from .storage import Store
from .vocab import STATUSES

TABLE = "progress_photos"
TEXT = {"photos": {"zh": "进度照片", "en": "Progress photos"},
        "camera": {"zh": "拍照", "en": "Take a photo"},
        "choose": {"zh": "选择照片（可多选，最多 {n} 张）", "en": "Choose photos (up to {n})"},
        "photo": {"zh": "照片", "en": "photo"}}
Url = Callable[[int, str], str]  # (photo id, variant) -> URL


def photo_rows(progress_fid: int, layer_id: str, code: str, staged: list[Staged], actor: str,
               when: dt.datetime) -> pd.DataFrame:
    rows = []
    for item in staged:
        p = item.photo
        rows.append({"progress_fid": int(progress_fid), "layer": layer_id, "feature_code": code,
                     "original_path": item.paths["original"], "display_path": item.paths["display"],
                     "thumb_path": item.paths["thumb"], "sha256": p.sha256, "content_type": p.content_type,
                     "bytes": len(p.original), "width": p.width, "height": p.height,
                     "taken_at": stamp(p.meta.taken_at) if p.meta.taken_at else None,
                     "uploaded_by": actor, "uploaded_at": stamp(when)})
    return pd.DataFrame(rows)


def delete_record(store: Store, progress_fid: int, actor: str) -> None:
    """Remove a progress record with its photo rows (undo when the files cannot be published)."""
    with store.writer(actor) as w:
        for fid in store.read(TABLE, where={"progress_fid": int(progress_fid)}, columns=["progress_fid"]).index:
            w.delete(TABLE, int(fid))
        w.delete("progress", int(progress_fid))


def feature_photos(store: Store, layer_id: str, code: str, as_of: dt.date | None = None) -> pd.DataFrame:
    """The photos of a feature's records (up to ``as_of``), newest record first, with the
    record's date and status."""
    photos = store.read(TABLE, where={"layer": layer_id, "feature_code": code}, columns=["progress_fid"])
    if photos.empty:
        return photos.assign(record_date=[], status=[])
    where: dict = {"fid": sorted({int(f) for f in photos["progress_fid"]})}
    if as_of is not None:
        where["record_date"] = {"<=": as_of}
    records = store.read("progress", where=where, columns=["record_date", "status"])
    out = photos.join(records, on="progress_fid", how="inner")
    out = out.assign(_id=out.index).sort_values(["record_date", "progress_fid", "_id"], ascending=[False, False, True])
    return out.drop(columns="_id")


def photos_html(photos: pd.DataFrame, lang: str, url: Url) -> str:
    """Thumbnails linking to the display copies, each captioned with its record's date and status."""
    if photos.empty:
        return ""
    figures = []
    for fid, p in photos.iterrows():
        caption = f"{p['record_date']} {STATUSES.get(p['status'], {}).get(lang, p['status'])}"
        figures.append(
            f'<figure data-record="{int(p["progress_fid"])}"><a href="{escape(url(int(fid), "display"))}" '
            f'target="_blank" rel="noopener"><img src="{escape(url(int(fid), "thumb"))}" '
            f'alt="{escape(TEXT["photo"][lang])} {escape(str(p["record_date"]))}" loading="lazy"></a>'
            f'<figcaption>{escape(caption)}</figcaption></figure>')
    return (f'<div class="gis-progress-photos"><p>{escape(TEXT["photos"][lang])}</p>'
            f'{"".join(figures)}</div>')


def input_html(lang: str, max_photos: int) -> str:
    """The form's photo fields: the camera on a phone, or several files from the gallery."""
    return (f'<label>{escape(TEXT["camera"][lang])} '
            '<input type="file" name="photos" accept="image/*" capture="environment"></label>'
            f'<label>{escape(TEXT["choose"][lang].format(n=max_photos))} '
            '<input type="file" name="photos" accept="image/*" multiple></label>')
