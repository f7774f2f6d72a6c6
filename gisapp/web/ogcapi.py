"""OGC API - Features under /ogcapi: a thin layer over :mod:`gisapp.ogcapi`.

It picks the representation (``?f=json|html`` or the Accept header), builds
the :class:`~gisapp.ogcapi.Ctx` and serialises with orjson. Errors are the
app's one JSON shape (``{"error": {status, code, message}}``), here too.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from .. import ogcapi
from ..catalog import get_collection
from ..db import get_store
from ..errors import GisappError, NotFound
from ..featureindex import DEFAULT_MAX_FEATURES, FeatureIndexes
from ..geojson import GEOJSON, dumps
from ..i18n import current_lang

bp = Blueprint("ogcapi", __name__, url_prefix="/ogcapi")
log = logging.getLogger(__name__)
_GENERIC = {"zh": "请求无法处理。", "en": "The request could not be processed."}
_INTERNAL = {"zh": "服务器内部错误，请稍后再试。", "en": "Internal server error, please try again later."}


def include_private() -> bool:
    """Whether this request sees private fields (personal data) and non-public layers:
    yes for signed-in users, no in the anonymous public view (``g.public``, set by the
    access rule in :mod:`gisapp.web.auth`). Access itself is checked there, as for the pages."""
    return not g.get("public", False)


def _indexes() -> FeatureIndexes:
    """This app's in-memory feature indexes (``FEATURE_INDEX_MAX`` features at most; 0 turns them off)."""
    key = "gisapp.featureindex"
    if key not in current_app.extensions:
        limit = int(current_app.config.get("FEATURE_INDEX_MAX", DEFAULT_MAX_FEATURES))
        current_app.extensions[key] = FeatureIndexes(limit)
    return current_app.extensions[key]


def _wants() -> str:
    f = request.args.get("f")
    if f is not None:
        return ogcapi.parse_format(f)
    best = request.accept_mimetypes.best_match([ogcapi.JSON, GEOJSON, ogcapi.HTML], default=ogcapi.JSON)
    return "html" if best == ogcapi.HTML else "json"


def _ctx() -> ogcapi.Ctx:
    lang = current_lang()
    keep = {"lang": request.args["lang"]} if request.args.get("lang") in ("zh", "en") else {}
    return ogcapi.Ctx(base=url_for("ogcapi.landing", _external=True).rstrip("/"),
                      api_doc=url_for("exports.openapi_json", _external=True),
                      lang=lang, include_private=include_private(), fmt=_wants(), keep=keep)


def _respond(doc: dict, ctx: ogcapi.Ctx, page: str, media: str = ogcapi.JSON, cid: str | None = None) -> Response:
    if ctx.fmt == "html":
        extra = {"cid": cid, "columns": _columns(cid, ctx)} if cid else {}
        html = render_template("ogcapi.html", page=page, doc=doc, lang=ctx.lang, **extra)
        resp = Response(html, mimetype="text/html")
    else:
        resp = Response(dumps(doc), mimetype=media)
    resp.headers["Vary"] = "Accept"
    return resp


@bp.get("/")
def landing():
    ctx = _ctx()
    ogcapi.check_params(request.args, ogcapi.COMMON_PARAMS)
    return _respond(ogcapi.landing(ctx), ctx, "landing")


@bp.get("/conformance")
def conformance():
    ctx = _ctx()
    ogcapi.check_params(request.args, ogcapi.COMMON_PARAMS)
    return _respond(ogcapi.conformance(ctx), ctx, "conformance")


@bp.get("/collections")
def collections():
    ctx = _ctx()
    ogcapi.check_params(request.args, ogcapi.COMMON_PARAMS)
    return _respond(ogcapi.collections(get_store(), ctx), ctx, "collections")


@bp.get("/collections/<cid>")
def collection(cid: str):
    ctx = _ctx()
    return _respond(ogcapi.collection(get_store(), cid, request.args, ctx), ctx, "collection")


def _columns(cid: str, ctx: ogcapi.Ctx) -> list[tuple[str, str]]:
    coll = get_collection(get_store().registry, cid, ctx.include_private)
    return [(name, coll.label(name, ctx.lang)) for name in coll.property_types(ctx.include_private)]


@bp.get("/collections/<cid>/items")
def items(cid: str):
    ctx = _ctx()
    doc = ogcapi.items(get_store(), cid, request.args, ctx, _indexes())
    return _respond(doc, ctx, "items", GEOJSON, cid=cid)


@bp.get("/collections/<cid>/items/<fid>")
def item(cid: str, fid: str):
    ctx = _ctx()
    doc = ogcapi.item(get_store(), cid, fid, request.args, ctx)
    return _respond(doc, ctx, "item", GEOJSON, cid=cid)


class MethodNotAllowed(GisappError):
    status = 405
    code = "method_not_allowed"


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str):
    """Anything else under /ogcapi: 404 (or 405 for a known path) in the JSON error shape."""
    try:
        endpoint, _ = current_app.url_map.bind_to_environ(request.environ).match(method="GET")
    except HTTPException:
        endpoint = None
    if request.method != "GET" and endpoint not in (None, "ogcapi.unknown"):
        raise MethodNotAllowed({"zh": "不支持该请求方法。", "en": "Method not allowed."})
    raise NotFound({"zh": "页面或数据不存在。", "en": "Not found."})


def _error(status: int, code: str, message: str):
    fmt = request.args.get("f")
    if fmt == "html" or (fmt is None and request.accept_mimetypes.best_match(
            [ogcapi.JSON, ogcapi.HTML], default=ogcapi.JSON) == ogcapi.HTML):
        return render_template("error.html", status=status, message=message, lang=current_lang()), status
    body = {"error": {"status": status, "code": code, "message": message}}
    return Response(dumps(body), status=status, mimetype=ogcapi.JSON)


@bp.errorhandler(GisappError)
def domain_error(exc: GisappError):
    return _error(exc.status, exc.code, exc.message(current_lang()))


@bp.errorhandler(Exception)
def unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return _error(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"),
                      _GENERIC[current_lang()])
    log.exception("unhandled error on %s", request.path)
    return _error(500, "internal", _INTERNAL[current_lang()])
