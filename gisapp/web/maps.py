"""The planner map page."""
from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request

from flask_wtf.csrf import generate_csrf

from ..db import get_registry, get_store
from ..i18n import current_lang
from ..mapdata import parse_filter
from ..mapview import BASEMAPS, MapSettings, build_map

bp = Blueprint("map", __name__)


def _settings(basemap: str) -> MapSettings:
    cfg = current_app.config
    return MapSettings(cfg["MAP_CENTER"], cfg["MAP_ZOOM"], cfg["OSM_TILES"], cfg.get("TIANDITU_KEY") or None,
                       cfg["AMAP_TILES"], basemap)


@bp.get("/")
def index():
    lang = current_lang()
    store = get_store()
    filt = parse_filter(request.args, store)
    basemap = request.args.get("basemap") or current_app.config["BASEMAP"]
    basemap = basemap if basemap in BASEMAPS else "none"
    public = g.get("public", False)
    user = g.get("user")
    m, config = build_map(store, _settings(basemap), filt, lang, public, editor=bool(user and user.can("admin")))
    config["csrf"] = generate_csrf()
    communities = store.read("communities", columns=["code", "name"], order_by="code", geometry=False)
    dashboard_layers = [layer for layer in get_registry() if layer.progress and (layer.public or not public)]
    parts = {name: render_template(f"map_{name}.html", lang=lang, filt=filt, config=config,
                                   communities=list(zip(communities["code"], communities["name"])),
                                   dashboard_layers=dashboard_layers, basemap=basemap)
             for name in ("head", "body", "end")}
    html = m.get_root().render()
    html = html.replace("</head>", parts["head"] + "</head>", 1).replace("<body>", "<body>" + parts["body"], 1)
    html = html.replace("<html>", f'<html lang="{"en" if lang == "en" else "zh-CN"}">', 1)
    return html[: html.rindex("</html>")] + parts["end"] + "</html>"
