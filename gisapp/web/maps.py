"""Map pages."""
from __future__ import annotations

import threading

from flask import Blueprint, current_app, render_template, request, url_for

from ..db import get_store
from ..i18n import current_lang
from ..mapview import build_map

bp = Blueprint("map", __name__)
_cache: dict[tuple, str] = {}
_lock = threading.Lock()


def _map_html(lang: str, basemap: str) -> str:
    """The rendered Folium map, rebuilt only when the data changes."""
    store = get_store()
    key = (store.url, store.data_version(), lang, basemap)
    with _lock:
        if key in _cache:
            return _cache[key]
    cfg = current_app.config
    html = build_map(store, lang, basemap, cfg["OSM_TILES"], cfg["MAP_CENTER"], cfg["MAP_ZOOM"]) \
        .get_root().render()
    with _lock:
        for old in [k for k in _cache if k[0] == store.url]:
            del _cache[old]
        _cache[key] = html
    return html


@bp.get("/")
def index():
    lang = current_lang()
    basemap = request.args.get("basemap", current_app.config["BASEMAP"])
    basemap = basemap if basemap in ("none", "osm") else "none"
    other = "en" if lang == "zh" else "zh"
    head = render_template("map_head.html", lang=lang)
    header = render_template("map_header.html", lang=lang,
                             switch_url=url_for("map.index", lang=other, basemap=basemap))
    html = _map_html(lang, basemap).replace("</head>", head + "</head>", 1).replace("<body>", "<body>" + header, 1)
    return html.replace("<html>", f'<html lang="{"en" if lang == "en" else "zh-CN"}">', 1)
