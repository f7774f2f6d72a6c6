"""Downloads and the OpenAPI document under /api.

- ``/api/export/<layer>.<format>?community=&status=&as_of=``: a layer (or
  ``all``) as GeoPackage, GeoJSON, CSV or zipped Shapefile (:mod:`gisapp.exports`);
- ``/api/openapi.json``: the OpenAPI 3.0 document of the whole API (:mod:`gisapp.openapi`).
"""
from __future__ import annotations

import shutil

from flask import Blueprint, Response, request

from .. import exports, openapi
from ..db import get_registry, get_store
from ..geojson import dumps
from ..ogcapi import OPENAPI_TYPE, check_params
from .auth import requires
from .ogcapi import include_private

bp = Blueprint("exports", __name__, url_prefix="/api")
EXPORT_PARAMS = ("community", "status", "as_of", "lang")


@bp.get("/openapi.json")
@requires("read")  # the blueprint's default is "export"
def openapi_json():
    check_params(request.args, ("lang",))
    doc = openapi.build(get_registry(), include_private())
    return Response(dumps(doc), mimetype=OPENAPI_TYPE.split(";")[0], headers={"Content-Type": OPENAPI_TYPE})


@bp.get("/export/<name>")
def export(name: str):
    """``back_lanes.gpkg``, ``all.shp.zip``, ``reports.csv``…"""
    layer, fmt = exports.parse_name(name)
    params = check_params(request.args, EXPORT_PARAMS)
    flt = exports.parse_filter(params.get("community"), params.get("status"), params.get("as_of"))
    path = exports.export_to_temp(get_store(), layer, fmt, flt, include_private())
    filename = f"{layer}-{flt.community + '-' if flt.community else ''}{flt.stamp()}{exports.FORMATS[fmt]}"
    resp = Response(_sent_then_removed(path), mimetype=exports.MEDIA_TYPES[fmt].split(";")[0],
                    headers={"Content-Type": exports.MEDIA_TYPES[fmt], "Content-Length": str(path.stat().st_size),
                             "Content-Disposition": f"attachment; filename=\"{_ascii(filename)}\""})
    resp.call_on_close(lambda: shutil.rmtree(path.parent, ignore_errors=True))  # also when never read (HEAD)
    return resp


def _sent_then_removed(path):
    """The file in blocks (a large export never sits in memory whole); its folder is removed
    once sent, or when the client goes away (the server closes the response)."""
    try:
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                yield block
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
