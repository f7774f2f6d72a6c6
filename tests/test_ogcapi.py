"""OGC API - Features: documents, paging, filters, datetime, errors, views, and GDAL's own client."""
import datetime as dt
import subprocess
import threading
from urllib.parse import urlsplit

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from werkzeug.serving import make_server

from gisapp import create_app
from gisapp.auth import create_token
from gisapp.catalog import all_collections, get_collection
from gisapp.errors import BadRequest, NotFound
from gisapp.ogcapi import Ctx, collections, items, parse_bbox, parse_datetime, time_query
from gisapp.progress import latest
from gisapp.query import Query, run

from conftest import clone_demo, pg_server

GEOJSON = "application/geo+json"


def login(app, username="admin"):
    """A test client with a signed-in session (the demo admin)."""
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["user"] = username
    return client


def bearer(store) -> dict:
    """Headers with a new API token of the demo admin."""
    return {"Authorization": "Bearer " + create_token(store, "admin", "tests", "tests")}


def get(client, url, status=200):
    resp = client.get(url)
    assert resp.status_code == status, (url, resp.get_data(as_text=True)[:300])
    return resp


def walk(client, url):
    """Every feature, following the next links."""
    out, pages = [], 0
    while url:
        body = get(client, url).get_json()
        out += body["features"]
        pages += 1
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return out, pages


# --- documents -----------------------------------------------------------------------------
def test_landing_conformance_and_collections(client, registry):
    landing = get(client, "/ogcapi/").get_json()
    rels = {link["rel"]: link for link in landing["links"]}
    assert {"self", "alternate", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    conf = get(client, rels["conformance"]["href"]).get_json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    body = get(client, rels["data"]["href"]).get_json()
    assert [c["id"] for c in body["collections"]] == [layer.id for layer in registry] + ["reports"]
    for c in body["collections"]:
        kinds = {(link["rel"], link["type"]) for link in c["links"]}
        assert ("items", GEOJSON) in kinds and ("items", "text/html") in kinds


def test_collection_extent_comes_from_the_data(client, store):
    doc = get(client, "/ogcapi/collections/back_lanes").get_json()
    bbox = doc["extent"]["spatial"]["bbox"][0]
    assert bbox == pytest.approx(list(store.read("back_lanes").total_bounds), abs=1e-7)
    days = store.read("progress", where={"layer": "back_lanes"})["record_date"]
    assert doc["extent"]["temporal"]["interval"][0] == [days.min() + "T00:00:00Z", days.max() + "T00:00:00Z"]
    reports = get(client, "/ogcapi/collections/reports").get_json()
    assert reports["extent"]["temporal"]["interval"][0][0] == store.read("reports")["reported_at"].min()


def test_items_carry_latest_progress_and_page_with_links(client, store):
    first = get(client, "/ogcapi/collections/back_lanes/items?limit=5")
    assert first.mimetype == GEOJSON
    body = first.get_json()
    assert body["numberMatched"] == 21 and body["numberReturned"] == 5
    assert {link["rel"] for link in body["links"]} >= {"self", "alternate", "next", "collection"}
    feats, pages = walk(client, "/ogcapi/collections/back_lanes/items?limit=5")
    assert pages == 5 and sorted(f["id"] for f in feats) == sorted(store.read("back_lanes").index)
    assert sum(f["properties"]["area_m2"] for f in feats) == 19700  # the published figure, from latest records
    lane = feats[0]["properties"]
    assert {"status", "percent", "status_date", "area_m2", "spaces", "funds_cny"} <= set(lane)
    assert feats[0]["geometry"]["type"] == "LineString"
    second = get(client, "/ogcapi/collections/back_lanes/items?limit=5&offset=5").get_json()
    prev = next(link["href"] for link in second["links"] if link["rel"] == "prev")
    assert "offset=0" in prev and "limit=5" in prev


def test_geojson_is_rfc7946(client, store):
    gdf = store.read("markets")
    with store.writer("tester") as w:  # a clockwise exterior ring with far too many decimals
        w.insert("markets", gpd.GeoDataFrame(
            {"code": ["CW1"], "name": ["顺时针市场"], "community_code": ["510322100026"]},
            geometry=[shapely.Polygon([(104.981234567891, 29.18), (104.98, 29.181), (104.982, 29.1812345678)])],
            crs=4326))
    feats, _ = walk(client, "/ogcapi/collections/markets/items?limit=100")
    assert len(feats) == len(gdf) + 1
    for f in feats:
        ring = f["geometry"]["coordinates"][0]
        assert shapely.LinearRing(ring).is_ccw, f["id"]  # right-hand rule: exterior counter-clockwise
        assert all(len(repr(v).split(".")[1]) <= 7 for xy in ring for v in xy)


# --- filters ----------------------------------------------------------------------------------
def test_bbox_on_points_and_polygons_is_exact(client, store):
    box = (104.975, 29.17, 104.99, 29.185)
    url = "/ogcapi/collections/{}/items?limit=10000&bbox=" + ",".join(map(str, box))
    for layer in ("waste_bins", "compounds", "back_lanes"):
        gdf = store.read(layer)
        expected = sorted(gdf.index[gdf.intersects(shapely.box(*box))])
        body = get(client, url.format(layer)).get_json()
        assert sorted(f["id"] for f in body["features"]) == expected and body["numberMatched"] == len(expected)
        assert 0 < len(expected) < len(gdf), layer


def test_bbox_across_the_antimeridian(client, store):
    across = get(client, "/ogcapi/collections/waste_bins/items?limit=10000&bbox=170,29.17,104.99,29.185").get_json()
    west = get(client, "/ogcapi/collections/waste_bins/items?limit=10000&bbox=-180,29.17,104.99,29.185").get_json()
    assert across["numberMatched"] == west["numberMatched"] > 0
    assert [f["id"] for f in across["features"]] == [f["id"] for f in west["features"]]


def test_property_filters_and_status(client, store):
    body = get(client, "/ogcapi/collections/waste_bins/items?community_code=510322100026&limit=10000").get_json()
    expected = store.count("waste_bins", where={"community_code": "510322100026"})
    assert body["numberMatched"] == expected == len(body["features"]) > 0
    done = get(client, "/ogcapi/collections/parking_spaces/items?status=done&limit=10000").get_json()
    assert done["numberMatched"] > 0 and {f["properties"]["status"] for f in done["features"]} == {"done"}
    closed = get(client, "/ogcapi/collections/reports/items?status=closed&category=flyers&limit=1").get_json()
    assert closed["numberMatched"] == store.count("reports", where={"status": "closed", "category": "flyers"})


@pytest.mark.parametrize("index_max", [0, 200_000])
def test_index_and_store_paths_agree(demo_copy, index_max):
    """The in-memory index and the Store path give the same pages."""
    fast = login(create_app({"DATABASE": str(demo_copy), "TESTING": True}))
    slow = login(create_app({"DATABASE": str(demo_copy), "TESTING": True, "FEATURE_INDEX_MAX": index_max}))
    for url in ["/ogcapi/collections/back_lanes/items?limit=7&offset=3",
                "/ogcapi/collections/parking_spaces/items?bbox=104.97,29.17,104.99,29.19&limit=1000&offset=5",
                "/ogcapi/collections/parking_spaces/items?limit=50&status=done&community_code=510322100026",
                "/ogcapi/collections/compounds/items?bbox=104.97,29.17,104.99,29.19",
                "/ogcapi/collections/communities/items?limit=3&offset=20",
                "/ogcapi/collections/reports/items?status=closed&limit=100&offset=300",
                "/ogcapi/collections/waste_bins/items?offset=100000"]:
        a, b = fast.get(url).get_json(), slow.get(url).get_json()
        a.pop("timeStamp"), b.pop("timeStamp")
        assert a == b, url


# --- datetime -----------------------------------------------------------------------------------
def test_datetime_instant_gives_the_state_on_that_day(client, store):
    records = store.progress("back_lanes")
    day = "2023-06-30"
    state = latest(records, day)
    body = get(client, f"/ogcapi/collections/back_lanes/items?datetime={day}&limit=100").get_json()
    got = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    codes = set(state.index.get_level_values("feature_code"))
    assert set(got) == codes and 0 < len(codes) < 21
    for (_, code), row in state.iterrows():
        assert got[code]["status"] == row["status"] and got[code]["status_date"] <= day


def test_datetime_interval_keeps_features_worked_on_in_it(client, store):
    records = store.progress("waste_bins")
    inside = records[(records["record_date"] >= "2023-05-01") & (records["record_date"] <= "2023-05-31")]
    body = get(client, "/ogcapi/collections/waste_bins/items?datetime=2023-05-01/2023-05-31&limit=10000").get_json()
    assert {f["properties"]["code"] for f in body["features"]} == set(inside["feature_code"])
    assert all(f["properties"]["status_date"] <= "2023-05-31" for f in body["features"])
    open_end = get(client, "/ogcapi/collections/waste_bins/items?datetime=2023-12-01/..&limit=1").get_json()
    late = records[records["record_date"] >= "2023-12-01"]["feature_code"].nunique()
    assert open_end["numberMatched"] == late


def test_datetime_on_reports_is_the_reported_day(client, store):
    body = get(client, "/ogcapi/collections/reports/items?datetime=2023-03-01&limit=100").get_json()
    expected = store.count("reports", where={"reported_at": {">=": "2023-03-01", "<": "2023-03-02"}})
    assert body["numberMatched"] == expected > 0
    assert all(f["properties"]["reported_at"].startswith("2023-03-01") for f in body["features"])
    span = get(client, "/ogcapi/collections/reports/items?datetime=2023-03-01T00:00:00Z/2023-03-31T23:59:59Z").get_json()
    assert span["numberMatched"] == store.count("reports", where={"reported_at": {">=": "2023-03-01", "<": "2023-04-01"}})


@pytest.mark.parametrize("text, expected", [
    ("2023-06-30", {"as_of": dt.date(2023, 6, 30), "require_record": True}),
    ("2023-06-30T23:00:00+08:00", {"as_of": dt.date(2023, 6, 30), "require_record": True}),
    ("2023-01-01/2023-06-30", {"as_of": dt.date(2023, 6, 30), "since": dt.date(2023, 1, 1)}),
    ("../2023-06-30", {"as_of": dt.date(2023, 6, 30), "require_record": True}),
    ("2023-01-01/..", {"as_of": None, "since": dt.date(2023, 1, 1)}),
    ("../..", {}),
])
def test_datetime_table(registry, text, expected):
    assert time_query(get_collection(registry, "back_lanes"), parse_datetime(text)) == expected


@pytest.mark.parametrize("text", ["2023-13-01", "yesterday", "2023-06-30/2023-01-01", "a/b/c", "", "..",
                                  "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_bad_datetimes(text):
    with pytest.raises(BadRequest):
        parse_datetime(text)


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "nan,0,1,1", "0,0,inf,1", "0,10,1,5", "0,-91,1,1",
                                  "-181,0,1,1", "1,2,3,4,5"])
def test_bad_bboxes(text):
    with pytest.raises(BadRequest):
        parse_bbox(text)


# --- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, status", [
    ("/ogcapi/collections/nope", 404),
    ("/ogcapi/collections/nope/items", 404),
    ("/ogcapi/collections/back_lanes/items/999999", 404),
    ("/ogcapi/collections/back_lanes/items/abc", 404),
    ("/ogcapi/collections/back_lanes/items/99999999999999999999999", 404),
    ("/ogcapi/collections/back_lanes/items?bbox=1,2,3", 400),
    ("/ogcapi/collections/back_lanes/items?bbox=NaN,0,1,1", 400),
    ("/ogcapi/collections/back_lanes/items?limit=-1", 400),
    ("/ogcapi/collections/back_lanes/items?limit=0", 400),
    ("/ogcapi/collections/back_lanes/items?limit=abc", 400),
    ("/ogcapi/collections/back_lanes/items?offset=-5", 400),
    ("/ogcapi/collections/back_lanes/items?limit=1&limit=2", 400),
    ("/ogcapi/collections/back_lanes/items?colour=red", 400),
    ("/ogcapi/collections/back_lanes/items?status=finished", 400),
    ("/ogcapi/collections/back_lanes/items?length_m=long", 400),
    ("/ogcapi/collections/back_lanes/items?datetime=not-a-date", 400),
    ("/ogcapi/collections/back_lanes/items?f=xml", 400),
    ("/ogcapi/collections/reports/items?category=unknown", 400),
    ("/ogcapi/collections/grid_cells/items?households=1e999", 400),
    ("/ogcapi/collections?limit=5", 400),
    ("/ogcapi/no/such/page", 404),
])
def test_errors_are_4xx_json_in_the_one_shape(client, url, status):
    resp = get(client, url, status)
    assert resp.is_json
    err = resp.get_json()["error"]
    assert set(err) == {"status", "code", "message"} and err["status"] == status and err["message"]
    en = client.get(url + ("&" if "?" in url else "?") + "lang=en").get_json()["error"]["message"]
    assert en.isascii()


def test_post_is_405_and_huge_offset_is_an_empty_page(client, store):
    resp = client.post("/ogcapi/collections", headers=bearer(store))  # a token: no CSRF check
    assert resp.status_code == 405 and resp.get_json()["error"]["status"] == 405
    body = get(client, "/ogcapi/collections/back_lanes/items?offset=99999999999999999999999").get_json()
    assert body["numberReturned"] == 0 and body["numberMatched"] == 21
    assert get(client, "/ogcapi/collections/back_lanes/items?limit=99999999").get_json()["numberReturned"] == 21


# --- views and HTML --------------------------------------------------------------------------------
def test_public_view_drops_private_fields_and_layers(store):
    ctx = Ctx(base="http://x/ogcapi", include_private=False)
    ids = [c["id"] for c in collections(store, ctx)["collections"]]
    assert "back_lanes" in ids and "reports" in ids and "parking_spaces" not in ids
    lanes = items(store, "back_lanes", {"limit": "50"}, ctx)["features"]
    assert lanes and not any({"manager", "manager_phone"} & set(f["properties"]) for f in lanes)
    reports = items(store, "reports", {"limit": "50"}, ctx)["features"]
    assert reports and not any("reporter" in f["properties"] for f in reports)
    with pytest.raises(NotFound):
        items(store, "parking_spaces", {}, ctx)
    with pytest.raises(BadRequest):  # a private field cannot be filtered on either
        items(store, "back_lanes", {"manager": "韦鹏"}, ctx)
    internal = items(store, "back_lanes", {"limit": "1"}, Ctx(base="http://x/ogcapi"))["features"][0]
    assert "manager" in internal["properties"]


def test_collections_for_every_view_have_queries(store, registry):
    for include_private in (True, False):
        for coll in all_collections(registry, include_private):
            result = run(store, coll, Query(limit=1), include_private)
            assert result.matched == store.count(coll.id)


def test_html_pages_escape_everything(client, store):
    evil = '<script>alert("x")</script>'
    with store.writer("tester") as w:
        w.insert("markets", gpd.GeoDataFrame({"code": ["EVIL"], "name": [evil], "community_code": ["C"]},
                                             geometry=[shapely.box(104.98, 29.18, 104.981, 29.181)], crs=4326))
    resp = client.get("/ogcapi/collections/markets/items?limit=50", headers={"Accept": "text/html"})
    html = resp.get_data(as_text=True)
    assert resp.mimetype == "text/html" and "&lt;script&gt;" in html and evil not in html
    assert "吉安庄农贸市场" in html
    fid = store.read("markets", where={"code": "EVIL"}).index[0]
    page = get(client, f"/ogcapi/collections/markets/items/{fid}?f=html").get_data(as_text=True)
    assert "&lt;script&gt;" in page and evil not in page
    for url in ("/ogcapi/?f=html", "/ogcapi/conformance?f=html", "/ogcapi/collections?f=html",
                "/ogcapi/collections/markets?f=html&lang=en"):
        assert get(client, url).mimetype == "text/html"


# --- GDAL's own client ---------------------------------------------------------------------------------
def drop_clone(database: str) -> None:
    if database.startswith("postgresql://"):
        pg_server().drop(urlsplit(database).path.lstrip("/"))


@pytest.fixture(scope="module")
def live(demo_db, tmp_path_factory):
    """The app on a real loopback port (werkzeug in a thread), on its own copy of the demo store."""
    database = clone_demo(demo_db, tmp_path_factory.mktemp("live"))
    app = create_app({"DATABASE": database, "TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    store = app.extensions["gisapp"]["store"]
    headers = tmp_path_factory.mktemp("gdal") / "headers.txt"  # GDAL sends these with every request
    headers.write_text("".join(f"{k}: {v}\n" for k, v in bearer(store).items()))
    yield f"http://127.0.0.1:{server.server_port}/ogcapi", store, headers
    server.shutdown()
    thread.join()
    store.close()
    drop_clone(database)


def gdal(*args, headers, timeout=120):
    args = (*args, "--config", "GDAL_HTTP_HEADER_FILE", str(headers))
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_ogrinfo_lists_every_collection(live, registry):
    url, _, headers = live
    out = gdal("ogrinfo", "-ro", f"OAPIF:{url}", headers=headers)
    for coll in all_collections(registry):
        assert f": {coll.id} (title: {coll.title.zh})" in out, coll.id
    info = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{url}", "back_lanes", headers=headers)
    assert "Feature Count: 21" in info and "manager: String" in info and "area_m2: Real" in info


@pytest.mark.parametrize("layer, options", [("back_lanes", []), ("waste_bins", []),
                                            ("reports", ["-oo", "PAGE_SIZE=500"])])
def test_ogr2ogr_copies_a_collection_with_every_feature_and_attribute(live, tmp_path, layer, options):
    url, store, headers = live
    out = tmp_path / f"{layer}.gpkg"
    gdal("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{url}", layer, *options, headers=headers)
    got = pyogrio.read_dataframe(out, fid_as_index=True).sort_index()  # GDAL keeps the feature id as FID
    coll = get_collection(store.registry, layer)
    result = run(store, coll, Query(), True)
    want = result.frame.sort_index()
    assert list(got.index) == list(want.index)
    for name in coll.property_types(True):
        a = got[name].astype(object).where(got[name].notna(), None).tolist()
        b = want[name].astype(object).where(want[name].notna(), None).tolist()
        kind = coll.property_types(True)[name]
        if kind == "date":
            a = [None if v is None else str(v)[:10] for v in a]
        if kind == "datetime":  # GDAL parses them
            a = [None if v is None else pd.Timestamp(v).strftime("%Y-%m-%dT%H:%M:%SZ") for v in a]
        if kind == "real":
            a, b = ([None if v is None else round(float(v), 6) for v in x] for x in (a, b))
        assert a == b, name
    assert shapely.equals_exact(got.geometry.values, want.geometry.values, tolerance=1e-7).all()
