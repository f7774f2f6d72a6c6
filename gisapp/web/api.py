"""The JSON API."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, request

from ..db import get_figures, get_registry, get_store
from ..errors import BadRequest
from ..figures import compute
from ..i18n import current_lang

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
