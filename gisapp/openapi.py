"""The OpenAPI 3.0 document of the whole HTTP API (served at /api/openapi.json).

:func:`build` runs every function in :data:`SECTIONS` on one document; a
new endpoint is described by adding a section (``register(section)``), a
function ``section(doc, registry, include_private)`` that adds paths and
components. Collections get their own paths (as pygeoapi does) so each
collection's filters and feature properties are described exactly.
"""
from __future__ import annotations

from typing import Callable

from .catalog import Collection, all_collections
from .ogcapi import DEFAULT_LIMIT, MAX_LIMIT, OPENAPI_TYPE
from .registry import Registry

Section = Callable[[dict, Registry, bool], None]
SECTIONS: list[Section] = []
JSON, GEOJSON, HTML = "application/json", "application/geo+json", "text/html"
TYPES = {"text": {"type": "string"}, "integer": {"type": "integer", "format": "int64"},
         "real": {"type": "number"}, "boolean": {"type": "boolean"},
         "date": {"type": "string", "format": "date"}, "datetime": {"type": "string"}}


def register(section: Section) -> Section:
    SECTIONS.append(section)
    return section


def ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def content(schema: dict, *media: str) -> dict:
    return {m: {"schema": schema if m != HTML else {"type": "string"}} for m in media or (JSON,)}


def ok(description: str, schema: dict, *media: str) -> dict:
    return {"200": {"description": description, "content": content(schema, *media)}}


ERRORS = {"400": ref("responses", "BadRequest"), "404": ref("responses", "NotFound")}


def build(registry: Registry, include_private: bool = True) -> dict:
    """The OpenAPI 3.0 document for this registry and view."""
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "gisapp · 富世街道创文工作地图", "version": "1.0.0",
                 "description": "OGC API – Features for the campaign layers and field reports, "
                                "downloads, and the app's JSON API. Errors: {\"error\": {status, code, message}}."},
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {"schemas": base_schemas(), "parameters": base_parameters(), "responses": base_responses()},
    }
    for section in SECTIONS:
        section(doc, registry, include_private)
    return doc


def base_schemas() -> dict:
    link = {"type": "object", "required": ["href"], "properties": {
        "href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
        "title": {"type": "string"}}}
    links = {"type": "array", "items": ref("schemas", "Link")}
    return {
        "Link": link,
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["status", "code", "message"], "properties": {
                "status": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"}}}}},
        "Geometry": {"type": "object", "nullable": True, "required": ["type"], "properties": {
            "type": {"type": "string", "enum": ["Point", "LineString", "Polygon", "MultiPoint",
                                                "MultiLineString", "MultiPolygon"]},
            "coordinates": {"type": "array"}}},
        "LandingPage": {"type": "object", "required": ["links"],
                        "properties": {"title": {"type": "string"}, "description": {"type": "string"}, "links": links}},
        "Conformance": {"type": "object", "required": ["conformsTo"], "properties": {
            "conformsTo": {"type": "array", "items": {"type": "string"}}, "links": links}},
        "Collection": {"type": "object", "required": ["id", "links"], "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
            "itemType": {"type": "string"}, "crs": {"type": "array", "items": {"type": "string"}},
            "extent": {"type": "object"}, "links": links}},
        "Collections": {"type": "object", "required": ["collections", "links"], "properties": {
            "collections": {"type": "array", "items": ref("schemas", "Collection")}, "links": links}},
    }


def base_parameters() -> dict:
    def query(name, schema, description, **extra):
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description, **extra}
    return {
        "f": query("f", {"type": "string", "enum": ["json", "html"]}, "Representation (default: from Accept, else JSON)"),
        "lang": query("lang", {"type": "string", "enum": ["zh", "en"]}, "Language of titles and messages"),
        "bbox": query("bbox", {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                      "minx,miny,maxx,maxy in CRS84 (minx > maxx crosses the antimeridian)",
                      style="form", explode=False),
        "limit": query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                       f"Features per page (larger values are served as {MAX_LIMIT})"),
        "offset": query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Features to skip"),
        "datetime": query("datetime", {"type": "string"},
                          "RFC 3339 instant or interval (a/b, ../b, a/..); see docs/ogcapi.md for what it selects"),
    }


def base_responses() -> dict:
    error = content(ref("schemas", "Error"), JSON, HTML)  # HTML when the page was asked for (f=html)
    return {"BadRequest": {"description": "The request is invalid (message in Chinese or English)", "content": error},
            "NotFound": {"description": "No such resource", "content": error}}


def feature_schema(coll: Collection, include_private: bool) -> dict:
    props = {}
    enums = coll.enums()
    for name, type_ in coll.property_types(include_private).items():
        schema = dict(TYPES[type_], nullable=True)
        if name in enums:
            schema["enum"] = [*enums[name], None]
        props[name] = schema
    return {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
        "geometry": ref("schemas", "Geometry"),
        "properties": {"type": "object", "properties": props, "additionalProperties": False},
        "links": {"type": "array", "items": ref("schemas", "Link")}}}


def collection_paths(coll: Collection, include_private: bool) -> tuple[dict, dict]:
    """(paths, schemas) of one collection."""
    name = f"Feature_{coll.id}"
    base = f"/ogcapi/collections/{coll.id}"
    common = [ref("parameters", "f"), ref("parameters", "lang")]
    filters = []
    for field, type_ in coll.filterable(include_private).items():
        schema = dict(TYPES[type_])
        if field in coll.enums():
            schema["enum"] = coll.enums()[field]
        filters.append({"name": field, "in": "query", "required": False, "schema": schema,
                        "description": f"Equality filter on {field}"})
    items = [*common, *(ref("parameters", p) for p in ("bbox", "limit", "offset", "datetime")), *filters]
    page = {"type": "object", "required": ["type", "features"], "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": ref("schemas", name)},
        "numberMatched": {"type": "integer", "minimum": 0}, "numberReturned": {"type": "integer", "minimum": 0},
        "timeStamp": {"type": "string"}, "links": {"type": "array", "items": ref("schemas", "Link")}}}
    fid = {"name": "featureId", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    title = coll.title.en
    return {
        base: {"get": {"summary": f"{title}: metadata", "operationId": f"describe_{coll.id}", "tags": ["OGC API"],
                       "parameters": common,
                       "responses": {**ok("The collection", ref("schemas", "Collection"), JSON, HTML), **ERRORS}}},
        base + "/items": {"get": {"summary": f"{title}: features", "operationId": f"items_{coll.id}", "tags": ["OGC API"],
                                  "parameters": items,
                                  "responses": {**ok("A page of features", page, GEOJSON, HTML), **ERRORS}}},
        base + "/items/{featureId}": {"get": {
            "summary": f"{title}: one feature", "operationId": f"item_{coll.id}", "tags": ["OGC API"],
            "parameters": [fid, *common],
            "responses": {**ok("The feature", ref("schemas", name), GEOJSON, HTML), **ERRORS}}},
    }, {name: feature_schema(coll, include_private)}


@register
def ogc_section(doc: dict, registry: Registry, include_private: bool) -> None:
    common = [ref("parameters", "f"), ref("parameters", "lang")]

    def page(summary, op, schema):
        return {"get": {"summary": summary, "operationId": op, "tags": ["OGC API"], "parameters": common,
                        "responses": {**ok(summary, ref("schemas", schema), JSON, HTML), "400": ERRORS["400"]}}}
    doc["paths"].update({"/ogcapi/": page("Landing page", "landing", "LandingPage"),
                         "/ogcapi/conformance": page("Conformance classes", "conformance", "Conformance"),
                         "/ogcapi/collections": page("Feature collections", "collections", "Collections")})
    for coll in all_collections(registry, include_private):
        paths, schemas = collection_paths(coll, include_private)
        doc["paths"].update(paths)
        doc["components"]["schemas"].update(schemas)


@register
def app_section(doc: dict, registry: Registry, include_private: bool) -> None:
    obj = {"type": "object"}
    text = {"zh": {"type": "string"}, "en": {"type": "string"}}
    figure = {"type": "object", "required": ["key", "value"], "properties": {
        "key": {"type": "string"}, "value": {"type": "number"}, "published": {"type": "number"},
        "comparison": {"type": "string", "enum": ["exact", "at_least"]}, "matches": {"type": "boolean"},
        "label": {"type": "object", "properties": text}, "unit": {"type": "object", "properties": text}}}
    as_of = {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
             "description": "Figures as they stood on this date"}
    doc["paths"].update({
        "/api/health": {"get": {"summary": "Liveness and the data version", "operationId": "health", "tags": ["App"],
                                "responses": ok("Alive", {**obj, "required": ["status"], "properties": {
                                    "status": {"type": "string"}, "backend": {"type": "string"},
                                    "layers": {"type": "integer"}, "data_version": {"type": "integer"}}})}},
        "/api/figures": {"get": {"summary": "Published figures beside the computed values", "operationId": "figures",
                                 "tags": ["App"], "parameters": [as_of, ref("parameters", "lang")],
                                 "responses": {**ok("Figures", {**obj, "required": ["figures"], "properties": {
                                     "as_of": {"type": "string", "nullable": True}, "data_version": {"type": "integer"},
                                     "figures": {"type": "array", "items": figure}}}), "400": ERRORS["400"]}}},
        "/api/layers": {"get": {"summary": "The layer registry with feature counts", "operationId": "layers",
                                "tags": ["App"], "parameters": [ref("parameters", "lang")],
                                "responses": ok("Layers", {**obj, "required": ["layers"], "properties": {
                                    "layers": {"type": "array", "items": {**obj, "required": ["id"]}}}})}},
        "/api/openapi.json": {"get": {"summary": "This document", "operationId": "openapi", "tags": ["App"],
                                      "responses": ok("OpenAPI 3.0", obj, OPENAPI_TYPE)}},
    })


@register
def export_section(doc: dict, registry: Registry, include_private: bool) -> None:
    from .exports import FORMATS, MEDIA_TYPES
    layers = [c.id for c in all_collections(registry, include_private)] + ["all"]
    params = [
        {"name": "layer", "in": "path", "required": True, "schema": {"type": "string", "enum": layers},
         "description": "A collection id, or all (gpkg and shp.zip only)"},
        {"name": "format", "in": "path", "required": True, "schema": {"type": "string", "enum": list(FORMATS)}},
        {"name": "community", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Community code"},
        {"name": "status", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Latest progress status (or report state); several comma-separated"},
        {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
         "description": "State on this date"},
        ref("parameters", "lang"),
    ]
    binary = {"type": "string", "format": "binary"}
    files = {MEDIA_TYPES[f].split(";")[0]: {"schema": {"type": "object"} if f == "geojson" else binary}
             for f in FORMATS}
    doc["paths"]["/api/export/{layer}.{format}"] = {"get": {
        "summary": "Download a layer (or all) as GeoPackage, GeoJSON, CSV or zipped Shapefile",
        "operationId": "export", "tags": ["Downloads"], "parameters": params,
        "responses": {"200": {"description": "The file (Content-Disposition: attachment)", "content": files},
                      **ERRORS}}}
