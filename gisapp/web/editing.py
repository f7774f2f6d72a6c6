"""Drawing new features and editing existing ones on the map (admins)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from .. import editing
from ..db import get_registry, get_store
from ..errors import BadRequest, NotFound
from ..i18n import current_lang
from .auth import actor

bp = Blueprint("editing", __name__, url_prefix="/api/features")


def _layer(layer_id: str):
    if layer_id not in get_registry():
        raise NotFound({"zh": "没有这个图层", "en": "no such layer"})
    return get_registry().get(layer_id)


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest({"zh": "请求应为 JSON 对象", "en": "the request body must be a JSON object"})
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise BadRequest({"zh": "properties 应为对象", "en": "properties must be an object"})
    return {"geometry": body.get("geometry"), "properties": props}


@bp.get("/<layer_id>/form")
def form(layer_id: str):
    layer = _layer(layer_id)
    values = None
    if request.args.get("fid", "").isdigit():
        df = get_store().read(layer.id, where={"fid": int(request.args["fid"])}, geometry=False)
        values = None if df.empty else df.iloc[0].to_dict()
    return jsonify(html=editing.form_html(layer, current_lang(), values))


@bp.post("/<layer_id>")
def create(layer_id: str):
    layer = _layer(layer_id)
    body = _body()
    fid = editing.create_feature(get_store(), layer, body["geometry"], body["properties"], actor(), request.remote_addr)
    return jsonify(fid=fid, layer=layer.id), 201


@bp.post("/<layer_id>/<int:fid>")
def update(layer_id: str, fid: int):
    layer = _layer(layer_id)
    body = _body()
    editing.update_feature(get_store(), layer, fid, body["geometry"], body["properties"], actor(), request.remote_addr)
    return jsonify(fid=fid, layer=layer.id)
