"""The planner map in a real headless Chromium, with no internet: layers, popups, filters, links, search."""
import datetime as dt
import shutil
import threading
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from gisapp.progress import feature_state

from conftest import DEMO_PASSWORD
from test_reports_support import photo_path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (scripts/system-deps.sh)")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOUJIE = "510322100031"
TILE_HOSTS = ("tile.openstreetmap.org", "autonavi.com", "tianditu.gov.cn")


@pytest.fixture
def server(app):
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


class Browser:
    """A page on the intranet: only the app answers; other requests are recorded and refused."""

    def __init__(self, context):
        self.page = context.new_page()
        self.outside, self.tiles, self.errors = [], [], []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" and
                     "net::ERR_FAILED" not in m.text else None)
        self.page.route("**/*", self._route)

    def _route(self, route):
        host = urlsplit(route.request.url).hostname or ""
        if host == "127.0.0.1":
            return route.continue_()
        (self.tiles if host.endswith(TILE_HOSTS) else self.outside).append(route.request.url)
        return route.abort()

    def open(self, url):
        self.page.goto(url, wait_until="load")
        self.page.wait_for_selector("body[data-ready='1']", timeout=20_000)
        return self

    def js(self, expr, arg=None):
        return self.page.evaluate(expr, arg)

    def counts(self):
        return self.js("() => window.gisapp.counts")

    def visible(self, layer_id):
        return self.js("id => { const d = JSON.parse(document.getElementById('gisapp-config').textContent)"
                       ".layers.find(l => l.id === id); const cfg = JSON.parse(document.getElementById("
                       "'gisapp-config').textContent); return window[cfg.map].hasLayer(window[d.group]); }", layer_id)


@pytest.fixture
def browser_as(server):
    """browser_as(user)() -> a page of that user's browser session, logged in through the form."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def session(username):
            context = chromium.new_context(viewport={"width": 1280, "height": 800})
            login = Browser(context).page
            login.goto(server + "/")  # not logged in: sent to the log-in page
            assert "/login" in login.url
            login.fill("input[name=username]", username)
            login.fill("input[name=password]", DEMO_PASSWORD)
            login.click("button[type=submit]")
            login.wait_for_selector("body[data-ready='1']")
            return lambda: Browser(context)
        yield session
        chromium.close()


@pytest.fixture
def browser(browser_as):
    """Pages of the demo planner's browser session."""
    return browser_as("planner")


def test_every_visible_layer_is_drawn_offline(server, browser, store):
    b = browser().open(server + "/")
    counts = b.counts()
    for layer in store.registry:
        if layer.visible:
            assert counts[layer.id] == store.count(layer.id), layer.id
        else:
            assert layer.id not in counts and not b.visible(layer.id)
    assert b.outside == [] and b.tiles == [] and b.errors == []
    labels = b.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert len(labels) == len(store.registry) + 1 and any("问题上报" in x for x in labels)
    figure = b.page.locator("#gis-dash-figures tr[data-key=lanes_surface_m2]").inner_text()
    assert "19,700" in figure
    assert b.page.locator("#gis-chart svg").count() == 1


def test_toggling_a_layer_hides_it_and_updates_the_link(server, browser):
    b = browser().open(server + "/")
    assert b.visible("back_lanes")
    b.page.locator(".leaflet-control-layers-overlays label", has_text="背街小巷").click()
    assert not b.visible("back_lanes")
    assert "back_lanes" not in b.js("() => new URLSearchParams(location.search).get('layers')")
    b.page.locator(".leaflet-control-layers-overlays label", has_text="停车位").click()
    b.page.wait_for_function("() => window.gisapp.counts.parking_spaces > 2700")
    assert b.errors == []


def test_clicking_a_lane_opens_its_popup_with_history(server, browser, store):
    b = browser().open(server + "/?layers=back_lanes")
    lanes = store.read("back_lanes", columns=["code", "name"])
    fid = int(lanes.index[0])
    open_lane_popup(b, fid)
    popup = b.page.locator(".leaflet-popup-content")
    assert lanes.loc[fid, "name"] in popup.locator("h4").inner_text()
    rows = popup.locator(".gis-history tr").count() - 1
    records = store.progress("back_lanes")
    assert rows == (records["feature_code"] == lanes.loc[fid, "code"]).sum()
    dates = popup.locator(".gis-history tr td:first-child").all_inner_texts()
    assert dates == sorted(dates, reverse=True)  # newest first


def test_a_filtered_link_reproduces_the_view(server, browser, store):
    records = store.progress("back_lanes")
    houjie = store.read("back_lanes", where={"community_code": HOUJIE})
    working = records[records["feature_code"].isin(houjie["code"]) & (records["status"] == "in_progress")]
    day = dt.date.fromisoformat(working["record_date"].min())
    expected = feature_state(houjie, records, "back_lanes", as_of=day)
    expected = int((expected["status"] == "in_progress").sum())
    url = f"{server}/?community={HOUJIE}&status=in_progress&as_of={day}&layers=back_lanes,communities"
    first = browser().open(url)
    assert first.counts()["back_lanes"] == expected >= 1
    assert first.counts()["communities"] == 1
    first.page.locator("#gis-copy-link").click()
    link = first.page.url
    assert f"as_of={day}" in link and "#" in link
    second = browser().open(link)
    assert second.counts() == first.counts()
    view = "() => { const c = JSON.parse(document.getElementById('gisapp-config').textContent); " \
           "const m = window[c.map]; return [m.getZoom(), m.getCenter().lat.toFixed(4), m.getCenter().lng.toFixed(4)]; }"
    assert second.js(view) == first.js(view)
    assert second.page.locator("select[name=community]").input_value() == HOUJIE
    assert second.errors == [] and second.outside == []


def test_search_zooms_to_a_market_and_opens_it(server, browser):
    b = browser().open(server + "/")
    b.page.fill("#gis-search", "吉安庄")
    b.page.locator("#gis-search-results li").first.click()
    b.page.wait_for_selector(".leaflet-popup .gis-popup h4")
    assert b.page.locator(".leaflet-popup h4").inner_text() == "吉安庄农贸市场"


def test_amap_basemap_shifts_the_overlays(server, browser):
    b = browser().open(server + "/")
    before = b.js("() => window.gisapp.counts")
    b.page.locator(".leaflet-control-layers-base label", has_text="高德").click()
    b.page.wait_for_function("() => window.gisapp.gcj02 && window.gisapp.pending === 0")
    assert b.counts() == before
    assert b.tiles and all("autonavi.com" in u for u in b.tiles)  # tiles tried, refused: the map still works
    assert "basemap=amap" in b.page.url and b.outside == []


def test_switch_to_english_and_back(server, browser):
    b = browser().open(server + "/")
    b.page.click("a.gis-lang")
    b.page.wait_for_selector("text=Fushi Subdistrict campaign map")
    b.open(server + "/")  # the choice persists
    assert b.page.locator(".gis-header strong").inner_text() == "Fushi Subdistrict campaign map"
    assert b.page.locator(".leaflet-control-layers-overlays label", has_text="Back lanes").count() == 1
    b.page.click("a.gis-lang")
    b.page.wait_for_selector("text=富世街道创文工作地图")


def open_lane_popup(b, fid):
    point = b.js("""fid => {
        const cfg = JSON.parse(document.getElementById('gisapp-config').textContent);
        const map = window[cfg.map]; let found = null;
        window[cfg.layers.find(l => l.id === 'back_lanes').group].eachLayer(g => g.eachLayer(l => {
            if (l.feature.id === fid) found = l; }));
        map.setView(found.getLatLngs()[1], 18, {animate: false});
        const p = map.latLngToContainerPoint(found.getLatLngs()[1]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""", fid)
    b.page.wait_for_timeout(300)
    b.page.mouse.click(*point)
    b.page.wait_for_selector(".leaflet-popup .gis-history")


def test_handler_adds_progress_and_the_dashboard_moves(app, server, browser_as, store, tmp_path):
    app.config["REPORT_UPLOADS"] = str(tmp_path / "uploads")  # the photos' private folder
    b = browser_as("handler")().open(server + "/?layers=back_lanes")
    total = "() => document.querySelector('#gis-dash-figures tr[data-key=lanes_surface_m2] td:nth-child(2)').textContent"
    assert b.js(total) == "19,700"
    fid = int(store.read("back_lanes", columns=["code"], geometry=False).index[0])
    open_lane_popup(b, fid)
    b.page.click(".leaflet-popup .gis-progress-form summary")
    form = b.page.locator(".leaflet-popup .gis-progress-form form")
    area = float(form.locator("input[name=area_m2]").input_value())
    form.locator("input[name=area_m2]").fill(str(area + 50))
    form.locator("input[name=note]").fill("补测后增加")
    form.locator("input[name=photos][multiple]").set_input_files(str(photo_path("orientation_6_no_gps.jpg")))
    form.locator("button[type=submit]").click()
    b.page.wait_for_function(f"() => ({total})() === '19,750'")
    b.page.wait_for_function("() => window.gisapp.saved === 1")
    assert "补测后增加" in b.page.locator(".leaflet-popup .gis-history").inner_text()
    # the photo went in with the record; its thumbnail is in the popup history, loaded, linking to the display copy
    record = store.read("progress", order_by="-created_at").iloc[0]
    assert record["note"] == "补测后增加"
    (photo_id,) = store.read("progress_photos", where={"progress_fid": int(record.name)}).index
    thumb = f".leaflet-popup .gis-history .gis-progress-photos img[src='/progress/photo/{photo_id}/thumb']"
    b.page.wait_for_function(f"() => {{ const i = document.querySelector(\"{thumb}\"); "
                             "return i && i.complete && i.naturalWidth > 0; }")
    href = b.page.locator(thumb).locator("xpath=..").get_attribute("href")
    assert href == f"/progress/photo/{photo_id}/display"
    shown = b.page.request.get(server + href)
    assert shown.status == 200 and shown.headers["content-type"] == "image/jpeg"
    assert b.errors == [] and b.outside == []
    # a status going backwards without a reason is refused by the server, the message shown in the popup
    b.page.click(".leaflet-popup .gis-progress-form summary")
    form = b.page.locator(".leaflet-popup .gis-progress-form form")
    form.locator("select[name=status]").select_option("planned")
    form.locator("button[type=submit]").click()
    b.page.wait_for_selector(".leaflet-popup .gis-form-msg.gis-error")
    assert "倒退" in form.locator(".gis-form-msg").inner_text()
    assert store.read("progress", order_by="-created_at").iloc[0]["note"] == "补测后增加"


def test_planner_sees_no_progress_form_and_quality_links_open_the_feature(server, browser, store):
    b = browser().open(server + "/?layers=back_lanes")
    fid = int(store.read("back_lanes", columns=["code"], geometry=False).index[1])
    open_lane_popup(b, fid)
    assert b.page.locator(".leaflet-popup .gis-progress-form").count() == 0
    b.page.goto(server + "/quality")
    rows = b.page.locator("#quality tr[data-kind]")
    assert rows.count() >= 1
    name = rows.first.locator("td:nth-child(2)").inner_text().split(" ", 1)[-1]
    rows.first.locator("a").click()
    b.page.wait_for_selector(".leaflet-popup .gis-popup h4")
    assert b.page.locator(".leaflet-popup h4").inner_text() == name


def test_admin_draws_a_point_and_moves_a_lane(server, browser_as, store):
    b = browser_as("admin")().open(server + "/?layers=practice_points,back_lanes")
    before = b.counts()["practice_points"]
    b.page.click(".leaflet-draw-draw-marker")
    box = b.page.locator(".folium-map").bounding_box()
    b.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    b.page.wait_for_selector(".gis-draw-choice select")
    b.page.select_option(".gis-draw-choice select", "practice_points")
    b.page.click(".gis-draw-choice button")
    form = b.page.locator(".gis-feature-form")
    form.locator("input[name=code]").fill("SJ99")
    form.locator("input[name=name]").fill("新建实践点")
    form.locator("input[name=community_code]").fill("510322100031")
    form.locator("input[name=level]").fill("point")
    form.locator("button[type=submit]").click()
    b.page.wait_for_function(f"() => window.gisapp.counts.practice_points === {before + 1}")
    row = store.read("practice_points", where={"code": "SJ99"}).iloc[0]
    assert row["name"] == "新建实践点"
    # move a lane's vertex with the edit handles, then save the shape
    fid = int(store.read("back_lanes", columns=["code"], geometry=False).index[0])
    old = store.read("back_lanes", where={"fid": fid}).geometry.iloc[0]
    open_lane_popup(b, fid)
    b.page.click(".leaflet-popup .gis-edit-shape")
    handle = b.page.locator(".leaflet-editing-icon").first
    hb = handle.bounding_box()
    b.page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    b.page.mouse.down()
    b.page.mouse.move(hb["x"] + 30, hb["y"] + 20, steps=5)
    b.page.mouse.up()
    b.page.click("#gis-save-shape")
    b.page.wait_for_function("() => window.gisapp.saved >= 2")
    new = store.read("back_lanes", where={"fid": fid}).geometry.iloc[0]
    assert not new.equals(old) and new.geom_type == "LineString"
    assert b.errors == [] and b.outside == []


def test_print_and_download_links_follow_the_view(server, browser_as):
    b = browser_as("leader")().open(server + "/?status=done,accepted")  # an official
    href = b.page.locator("#gis-print").get_attribute("href")
    assert href.startswith("/snapshot/bbox/") and "lang=zh" in href
    page = b.page.request.get(server + href)
    assert page.status == 200 and "富世街道" in page.text()
    link = b.page.locator(".gis-download[data-format=csv]").get_attribute("href")
    assert link.startswith("/api/export/back_lanes.csv") and "status=done%2Caccepted" in link
    csv = b.page.request.get(server + link)
    assert csv.status == 200 and csv.body()[:3] == b"\xef\xbb\xbf"
    planner = browser_as("planner")().open(server + "/")
    assert planner.page.locator("#gis-print").count() == 0 and planner.page.locator(".gis-download").count() == 0
