"""HTTP: the first page, the JSON API, errors in one shape, language switch."""
import json

import geopandas as gpd
import pytest
import shapely

from gisapp.assets import external_asset_urls


def in_page(html: str, text: str) -> bool:
    """Text as typed, or as folium embeds it in JSON (\\uXXXX for non-ASCII and <, >, &)."""
    embedded = json.dumps(text)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text in html or embedded in html


def test_health(client):
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok" and body["layers"] == 13 and body["data_version"] >= 1


def test_figures_json_has_value_beside_published(client):
    body = client.get("/api/figures").get_json()
    fig = {f["key"]: f for f in body["figures"]}
    lanes = fig["lanes_surface_m2"]
    assert lanes["value"] == 19700 and lanes["published"] == 19700 and lanes["unit"]["zh"] == "平方米"
    assert lanes["label"] == {"zh": "修补、黑化路面", "en": "Surface repaired/asphalted"}
    assert all(f["matches"] for f in body["figures"])
    past = client.get("/api/figures?as_of=2023-02-01").get_json()
    assert past["as_of"] == "2023-02-01"
    assert {f["key"]: f["value"] for f in past["figures"]}["lanes_renovated"] < 21


@pytest.mark.parametrize("url, status", [("/api/figures?as_of=2023-02-30", 400), ("/api/nothing", 404),
                                         ("/api/figures?as_of=' OR 1=1 --", 400)])
def test_api_errors_have_one_json_shape(client, url, status):
    resp = client.get(url)
    assert resp.status_code == status and resp.is_json
    err = resp.get_json()["error"]
    assert set(err) == {"status", "code", "message"} and err["status"] == status
    assert err["message"]  # Chinese by default
    en = client.get(url + ("&" if "?" in url else "?") + "lang=en").get_json()["error"]["message"]
    assert en != err["message"] and en.isascii()


def test_html_errors_elsewhere(client):
    resp = client.get("/no/such/page")
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert "页面或数据不存在" in resp.get_data(as_text=True)


def test_first_page_shows_every_layer_with_local_assets_only(client, app):
    html = client.get("/").get_data(as_text=True)
    assert external_asset_urls(html) == []
    for layer in app.extensions["gisapp"]["registry"]:  # layer control names are JSON-escaped
        assert in_page(html, layer.title.zh), layer.id
    assert "演示数据" in html and "tile.openstreetmap.org" in html  # OSM offered, not the default
    assert '<html lang="zh-CN">' in html
    assert len(html) < 60_000  # the data is fetched, not inlined


def test_language_switch_persists(client):
    resp = client.get("/?lang=en")
    assert "Back lanes" in resp.get_data(as_text=True)
    assert "lang=en" in resp.headers["Set-Cookie"]
    again = client.get("/").get_data(as_text=True)  # the cookie keeps English
    assert "Fushi Subdistrict campaign map" in again


def test_user_text_is_escaped_in_popups_and_tooltips(client, store):
    evil = '<img src=x onerror="alert(1)">'
    with store.writer("tester") as w:
        (fid,) = w.insert("markets", gpd.GeoDataFrame({"code": ["X1"], "name": [evil], "community_code": ["C"]},
                                                      geometry=[shapely.box(104.98, 29.18, 104.981, 29.181)], crs=4326))
    popup = client.get(f"/api/map/markets/{fid}/popup").get_json()["html"]
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in popup and "<img" not in popup
    data = client.get("/api/map/markets.geojson").get_json()
    tip = next(f["properties"]["t"] for f in data["features"] if f["id"] == fid)
    assert tip.startswith("&lt;img")


def test_map_data_follows_data_changes(client, store):
    before = client.get("/api/map/back_lanes.geojson").get_json()["features"]
    with store.writer("tester") as w:
        w.insert("back_lanes", gpd.GeoDataFrame(
            {"code": ["NEW1"], "name": ["新建测试小巷"], "community_code": ["C"]},
            geometry=[shapely.LineString([(104.98, 29.18), (104.981, 29.181)])], crs=4326))
    after = client.get("/api/map/back_lanes.geojson").get_json()["features"]
    assert len(after) == len(before) + 1
    new = after[-1]["properties"]
    assert new["t"] == "新建测试小巷" and new["s"] is None and new["c"] == "#bdbdbd"
