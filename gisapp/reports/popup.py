"""HTML pieces for a report's popup on the planner map: photo thumbnails and the
workflow transitions (who, when, from → to). Every value is escaped."""
from __future__ import annotations

from html import escape

from ..storage import Store
from ..vocab import REPORT_ACTIONS, REPORT_STATES
from .common import clean, local_text

PHOTO_URL = "/reports/photo/{id}/{variant}"
REPORT_URL = "/reports/{code}"
TEXT = {"events": {"zh": "处置记录", "en": "Transitions"}, "open": {"zh": "打开问题详情", "en": "Open the report"},
        "photos": {"zh": "照片", "en": "Photos"}}


def _state(value, lang: str) -> str:
    return REPORT_STATES.get(value, {}).get(lang, value or "") if value else ""


def events_html(events: list[dict], lang: str) -> str:
    rows = []
    for e in events:
        step = _state(e.get("from_status"), lang)
        if e.get("to_status") and e.get("to_status") != e.get("from_status"):
            step = f"{step} → {_state(e['to_status'], lang)}" if step else _state(e["to_status"], lang)
        action = REPORT_ACTIONS.get(e["action"], {}).get(lang, e["action"])
        extra = " · ".join(str(v) for v in (clean(e.get("target")), clean(e.get("note"))) if v)
        rows.append(f"<tr><td>{escape(local_text(e['at']))}</td><td>{escape(action)}</td><td>{escape(step)}</td>"
                    f"<td>{escape(str(e['actor']))}</td><td>{escape(extra)}</td></tr>")
    return (f'<details class="gis-history" open><summary>{escape(TEXT["events"][lang])}</summary>'
            f'<table>{"".join(rows)}</table></details>') if rows else ""


def photos_html(photos, lang: str) -> str:
    links = [f'<a href="{PHOTO_URL.format(id=int(fid), variant="display")}" target="_blank" rel="noopener">'
             f'<img src="{PHOTO_URL.format(id=int(fid), variant="thumb")}" alt="{escape(kind)}" loading="lazy" '
             f'style="max-width:96px;max-height:96px;margin:2px"></a>'
             for fid, kind in zip(photos.index, photos["kind"])]
    return f'<div class="gis-photos">{"".join(links)}</div>' if links else ""


def popup_extra(store: Store, code: str, lang: str) -> str:
    """Thumbnails, the transitions and a link to the report page."""
    photos = store.read("report_photos", where={"report_code": code}, columns=["kind"], order_by="uploaded_at")
    events = store.read("report_events", where={"report_code": code}, order_by="at").to_dict("records")
    link = f'<p><a href="{REPORT_URL.format(code=escape(code))}" target="_blank">{escape(TEXT["open"][lang])}</a></p>'
    return photos_html(photos, lang) + events_html(events, lang) + link
