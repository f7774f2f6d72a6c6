"""The JSON API."""
from __future__ import annotations

import datetime as dt

import orjson
from flask import Blueprint, Response, g, jsonify, request, url_for

from .. import progress_photos
from ..dashboard import cached_dashboard
from ..db import get_figures, get_registry, get_store
from ..errors import BadRequest, NotFound
from ..figures import compute
from ..i18n import current_lang
from ..mapdata import (REPORTS, feature_popup, layer_geojson, parse_bbox, parse_filter, report_popup,
                       reports_geojson, search)
from ..progress_entry import feature_code
from .reports import settings as report_settings

bp = Blueprint("api", __name__, url_prefix="/api")


def parse_date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest({"zh": f"参数 {name} 不是有效日期（应为 YYYY-MM-DD）：{value[:40]}",
                          "en": f"parameter {name} is not a date (YYYY-MM-DD): {value[:40]}"}) from None


@bp.get("/health")
def health():
    store = get_store()
    return jsonify(status="ok", backend=type(store).__name__, layers=len(get_registry()),
                   data_version=store.data_version())


@bp.get("/figures")
def figures():
    as_of = parse_date(request.args.get("as_of"), "as_of")
    store = get_store()
    return jsonify(as_of=as_of.isoformat() if as_of else None, data_version=store.data_version(),
                   figures=compute(store, get_figures(), as_of))


@bp.get("/layers")
def layers():
    lang = current_lang()
    store = get_store()
    out = [{
        "id": layer.id, "title": layer.title.get(lang), "geometry": layer.geometry, "kind": layer.kind,
        "progress": layer.progress, "features": store.count(layer.id),
        "quantities": [{"key": q.key, "title": q.label(lang), "unit": q.unit_label(lang)} for q in layer.quantities],
        "fields": [{"name": f.name, "type": f.type, "title": f.title.get(lang)} for f in layer.fields],
    } for layer in get_registry()]
    return jsonify(layers=out)


EDIT_BUTTONS = {lang: f'<p class="gis-edit-tools"><button type="button" class="gis-edit-shape">{shape}</button> '
                      f'<button type="button" class="gis-edit-attrs">{attrs}</button></p>'
                for lang, shape, attrs in (("zh", "编辑形状", "编辑属性"), ("en", "Edit shape", "Edit attributes"))}


def _layer_or_404(layer_id: str):
    """The layer (None for field reports); in the public view only public layers exist."""
    registry = get_registry()
    public = g.get("public", False)
    if (layer_id != REPORTS and layer_id not in registry) or (public and (layer_id == REPORTS or
                                                                           not registry.get(layer_id).public)):
        raise NotFound({"zh": f"没有图层：{layer_id[:40]}", "en": f"no such layer: {layer_id[:40]}"})
    return None if layer_id == REPORTS else registry.get(layer_id)


@bp.get("/map/<layer_id>.geojson")
def map_layer(layer_id: str):
    """A layer's features for the map, state as of the filter date, filtered; bbox optional."""
    layer = _layer_or_404(layer_id)
    store = get_store()
    filt = parse_filter(request.args, store)
    bbox = parse_bbox(request.args.get("bbox"))
    gcj02 = request.args.get("gcj02") == "1"
    if layer is None:
        data = reports_geojson(store, filt, current_lang(), bbox, gcj02)
    else:
        data = layer_geojson(store, layer, filt, current_lang(), bbox, gcj02)
    return Response(orjson.dumps(data), mimetype="application/geo+json")


@bp.get("/map/<layer_id>/<int:fid>/popup")
def map_popup(layer_id: str, fid: int):
    layer = _layer_or_404(layer_id)
    store = get_store()
    if layer is None:
        html = report_popup(store, fid, current_lang())
    else:
        user = g.get("user")
        filt, editable = parse_filter(request.args, store), bool(user and user.can("progress"))
        public = g.get("public", False)
        photos, inputs = _photos(store, layer, fid, filt.as_of, editable) if layer.progress and not public else ("", "")
        html = feature_popup(store, layer, fid, filt, current_lang(), public, editable, photos, inputs)
        if html is not None and user and user.can("admin"):
            html += EDIT_BUTTONS[current_lang()]
    if html is None:
        raise NotFound({"zh": "要素不存在", "en": "no such feature"})
    return jsonify(html=html)


def _photos(store, layer, fid: int, as_of, editable: bool) -> tuple[str, str]:
    """The feature's progress photos, and for handlers the form's photo fields (never public)."""
    lang, code = current_lang(), feature_code(store, layer, fid)  # NotFound for an unknown fid
    photos = progress_photos.feature_photos(store, layer.id, code, as_of)
    url = lambda photo_id, variant: url_for("ledger.progress_photo", photo_id=photo_id, variant=variant)  # noqa: E731
    inputs = progress_photos.input_html(lang, report_settings().max_photos) if editable else ""
    return progress_photos.photos_html(photos, lang, url), inputs


@bp.get("/search")
def search_features():
    return jsonify(results=search(get_store(), request.args.get("q", ""), current_lang(), public=g.get("public", False)))


@bp.get("/dashboard")
def dashboard_json():
    """The JSON twin of the map page's dashboard: same filters, same numbers."""
    store = get_store()
    filt = parse_filter(request.args, store)
    layer_id = request.args.get("layer") or "back_lanes"
    if layer_id not in store.registry or (g.get("public") and not store.registry.get(layer_id).public):
        raise BadRequest({"zh": "没有这个图层", "en": "no such layer"})
    return jsonify(cached_dashboard(store, get_figures(), filt, layer_id, current_lang()))
