"""Area snapshots for officials: print-ready pages, PDFs, map images, JSON twins and atlases.

| URL | gives |
| --- | --- |
| ``/snapshot/`` | the list of areas with links |
| ``/snapshot/<kind>/<key>`` | the print-ready page (kind: community, area, lane, market, bbox) |
| ``/snapshot/<kind>/<key>.pdf`` · ``.png`` · ``.json`` | the PDF, the map image, the figures |
| ``/snapshot/atlas.pdf`` · ``/snapshot/atlas/<layer>.pdf`` | the atlas of the communities or of a layer |

Options: ``as_of=YYYY-MM-DD``, ``paper=A4|A3``, ``orientation=landscape|portrait``, ``lang=zh|en``.
A rectangle's key is ``minlon,minlat,maxlon,maxlat`` (WGS84, Leaflet's ``getBounds().toBBoxString()``).
"""
from __future__ import annotations

import base64
import threading
from collections import OrderedDict

import orjson
from flask import Blueprint, Response, current_app, render_template, request, url_for
from markupsafe import Markup

from ..config import ROOT
from ..db import get_figures, get_store
from ..i18n import current_lang
from ..snapshot import DataCache, Options, atlas_pdf, build_atlas, make_snapshot, snapshot_pdf
from ..snapshot.areas import AREA_LAYERS
from ..snapshot.atlas import check_layer
from ..snapshot.settings import options_kwargs
from ..snapshot.text import L, SUBDISTRICT
from .api import parse_date

bp = Blueprint("snapshots", __name__)
FORMATS = {".pdf": "pdf", ".png": "png", ".json": "json"}
MIMETYPES = {"pdf": "application/pdf", "png": "image/png", "json": "application/json",
             "html": "text/html; charset=utf-8"}
_data = DataCache(size=4)


class OutputCache:
    """The last documents made, keyed on the store's data version and every option."""

    def __init__(self, size: int = 24):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get_or_make(self, key, make):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_out = OutputCache()


def options() -> Options:
    """Options from the query string and the ``SNAPSHOT_*`` settings."""
    args = request.args
    opts = Options(as_of=parse_date(args.get("as_of"), "as_of"), paper=args.get("paper", "A4").upper(),
                   orientation=args.get("orientation", "landscape").lower(), lang=current_lang(),
                   **options_kwargs(current_app.config, current_app.instance_path, get_store()))
    opts.layout  # noqa: B018 -- checks paper and orientation (400 when wrong)
    return opts


def _cache_key(opts: Options, *parts):
    store = get_store()
    return (store.url, store.data_version(), opts.as_of, opts.paper, opts.orientation, opts.lang,
            opts.overdue_days, *parts)


def _send(body, fmt: str, filename: str | None = None) -> Response:
    resp = Response(body, mimetype=MIMETYPES[fmt])
    if filename:
        resp.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    resp.headers["Cache-Control"] = "private, max-age=60"
    return resp


def _data_uri(data: bytes | None, mime: str) -> str | None:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}" if data else None


_css_cache: dict = {}


def _print_css() -> Markup:
    """static/snapshot.css (our own file, no user text), inlined so that a saved page prints the same."""
    path = ROOT / "static" / "snapshot.css"
    mtime = path.stat().st_mtime
    if _css_cache.get("mtime") != mtime:
        _css_cache.update(mtime=mtime, text=Markup(path.read_text(encoding="utf-8")))
    return _css_cache["text"]


def _page_links(kind: str, key: str, opts: Options) -> dict:
    args = {k: v for k, v in request.args.items() if k in ("as_of", "paper", "orientation", "lang")}
    link = lambda suffix="", **extra: url_for("snapshots.area", kind=kind, key=key + suffix, **{**args, **extra})
    return {"pdf": link(".pdf"), "json": link(".json"),
            "papers": [(p, link(paper=p)) for p in ("A4", "A3")],
            "orientations": [(o, link(orientation=o)) for o in ("landscape", "portrait")],
            "other_lang": link(lang="en" if opts.lang == "zh" else "zh")}


def _html(snap, kind: str, key: str, opts: Options) -> str:
    layout = snap.layout
    table = snap.list_table
    thumbs = [_data_uri(p.thumbnail, "image/jpeg") for p in (snap.problems or [])]
    return render_template("snapshot.html", snap=snap, layout=layout, L=L, lang=opts.lang, css=_print_css(),
                           map_src=_data_uri(snap.map_png, "image/png"), list_table=table, thumbs=thumbs,
                           links=_page_links(kind, key, opts))


def _json(snap) -> bytes:
    area = snap.area
    body = {"area": {"kind": area.kind, "key": area.key, "name": area.name, "title": snap.title},
            "as_of": snap.as_of.isoformat(), "data_version": snap.data_version,
            "generated_at": snap.generated_at.isoformat(timespec="seconds"), **snap.summary}
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


@bp.get("/snapshot/<kind>/<key>")
def area(kind: str, key: str):
    fmt = next((f for ext, f in FORMATS.items() if key.endswith(ext)), "html")
    if fmt != "html":
        key = key[: key.rindex(".")]
    opts = options()

    def make():
        store = get_store()
        snap = make_snapshot(store, get_figures(), kind, key, opts, _data.get(store, opts.as_of),
                             with_list=fmt in ("html", "pdf", "json"))
        name = f"snapshot-{snap.area.slug}-{snap.as_of}"
        if fmt == "pdf":
            return snapshot_pdf(snap, opts), f"{name}.pdf"
        if fmt == "png":
            return snap.map_png, f"{name}.png"
        if fmt == "json":
            return _json(snap), None
        return _html(snap, kind, key, opts), None

    body, filename = _out.get_or_make(_cache_key(opts, kind, key, fmt), make)
    return _send(body, fmt, filename)


@bp.get("/snapshot/atlas.pdf")
@bp.get("/snapshot/atlas/<layer>.pdf")
def atlas(layer: str = "communities"):
    opts = options()
    check_layer(layer, get_store().registry)

    def make():
        store = get_store()
        doc = build_atlas(store, get_figures(), opts, layer, _data.get(store, opts.as_of))
        return atlas_pdf(doc, opts)[0], f"atlas-{layer}-{doc.cover.as_of}.pdf"

    body, filename = _out.get_or_make(_cache_key(opts, "atlas", layer), make)
    return _send(body, "pdf", filename)


def _areas(lang: str) -> list[dict]:
    store = get_store()
    out = []
    for kind, layer_id in AREA_LAYERS.items():
        if layer_id not in store.registry:
            continue
        layer = store.registry.get(layer_id)
        df = store.read(layer_id, columns=[layer.link_field, layer.name_field], order_by=layer.link_field)
        out.append({"kind": kind, "layer": layer_id, "title": layer.title.get(lang),
                    "areas": [{"code": str(c), "name": str(n)} for c, n in zip(df[layer.link_field], df[layer.name_field])]})
    return out


@bp.get("/snapshot/")
def index():
    lang = current_lang()
    return render_template("snapshot_index.html", groups=_areas(lang), L=L, lang=lang,
                           subdistrict=SUBDISTRICT["en" if lang == "en" else "zh"])


@bp.get("/snapshot/areas.json")
def areas_json():
    return _send(orjson.dumps({"kinds": _areas(current_lang())}), "json")
