"""The OpenAPI document: valid, complete, served, and true to the app (schemathesis)."""
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gisapp import create_app
from gisapp.auth import create_token
from gisapp.catalog import all_collections
from gisapp.openapi import build

from conftest import clone_demo, pg_server

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_app(demo_db, tmp_path_factory):
    database = clone_demo(demo_db, tmp_path_factory.mktemp("openapi"))
    app = create_app({"DATABASE": database, "TESTING": True})
    yield app
    app.extensions["gisapp"]["store"].close()
    if database.startswith("postgresql://"):
        pg_server().drop(urlsplit(database).path.lstrip("/"))


def test_document_validates_and_covers_every_collection(registry):
    doc = build(registry)
    validate(doc)
    for coll in all_collections(registry):
        for suffix in ("", "/items", "/items/{featureId}"):
            assert f"/ogcapi/collections/{coll.id}{suffix}" in doc["paths"]
    for path in ("/ogcapi/", "/ogcapi/conformance", "/ogcapi/collections", "/api/health", "/api/figures",
                 "/api/layers", "/api/openapi.json", "/api/export/{layer}.{format}"):
        assert path in doc["paths"], path
    props = doc["components"]["schemas"]["Feature_back_lanes"]["properties"]["properties"]["properties"]
    assert {"manager", "status", "area_m2", "funds_cny"} <= set(props)


def test_public_document_leaves_out_private_fields_and_layers(registry):
    doc = build(registry, include_private=False)
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert "manager" not in schemas["Feature_back_lanes"]["properties"]["properties"]["properties"]
    assert "reporter" not in schemas["Feature_reports"]["properties"]["properties"]["properties"]
    assert "/ogcapi/collections/parking_spaces" not in doc["paths"]  # not a public layer
    filters = [p["name"] for p in doc["paths"]["/ogcapi/collections/back_lanes/items"]["get"]["parameters"]
               if "name" in p]
    assert "manager" not in filters and "status" in filters


def test_served_and_linked_from_the_landing_page(api_app, headers):
    client = api_app.test_client()
    client.environ_base.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/vnd.oai.openapi+json")
    validate(resp.get_json())
    links = client.get("/ogcapi/").get_json()["links"]
    desc = [link for link in links if link["rel"] == "service-desc"]
    assert desc and desc[0]["href"].endswith("/api/openapi.json")


@pytest.fixture(scope="module")
def headers(api_app):
    """An API token of the demo admin."""
    return {"Authorization": "Bearer " + create_token(api_app.extensions["gisapp"]["store"], "admin", "t", "t")}


@pytest.fixture(scope="module")
def api_schema(api_app, headers):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", api_app, headers=headers)


def run_operations(api_schema, headers: dict, downloads: bool, examples: int) -> int:
    """Every operation (downloads or the rest) with generated requests, valid and invalid ones
    (the invalid ones must get a documented 4xx, never a 500); the checks raise on a failure.

    Driven through hypothesis directly: schemathesis' pytest plugin does not run under pytest 9.
    """
    ran = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/api/export") != downloads:
            continue

        strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                             operation.as_strategy(GenerationMode.NEGATIVE))

        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def check(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
        ran += 1
    return ran


def test_api_conforms_to_its_document(api_schema, headers, registry):
    """No 500, documented status codes and media types, bodies that match their schemas."""
    ran = run_operations(api_schema, headers, downloads=False, examples=16)
    assert ran == 3 * (len(registry) + 1) + 3 + 3  # schemathesis skips the document's own path


def test_downloads_conform_to_the_document(api_schema, headers):
    assert run_operations(api_schema, headers, downloads=True, examples=8) == 1
