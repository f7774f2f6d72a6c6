"""A new user on a phone-sized headless Chromium: the field account reports a problem with
a photo (keeping the draft through a failed send), it shows on the planner's map data in
its community, and the handler moves it through the workflow to closed."""
import datetime as dt
import shutil
import threading
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from gisapp.reports.common import now

from conftest import DEMO_PASSWORD, logged_in
from test_reports_support import photo, photo_path, point_on_lane, rapp, with_gps  # noqa: F401

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (scripts/system-deps.sh)")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
        "--disable-component-update", "--disable-sync"]
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture
def server(rapp):
    srv = make_server("127.0.0.1", 0, rapp, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def phone(chromium, server, user, lat, lon, path):
    """A phone's page, logged in through the log-in form, at `path`; only the app answers."""
    context = chromium.new_context(**PHONE, geolocation={"latitude": lat, "longitude": lon, "accuracy": 12},
                                   permissions=["geolocation"], locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda route: route.continue_() if urlsplit(route.request.url).hostname == "127.0.0.1"
               else route.abort())
    page.goto(server + path)
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']")
    return context, page, errors


def test_report_on_a_phone_then_follow_it_to_closed(rapp, server, chromium, tmp_path):
    store = rapp.extensions["gisapp"]["store"]
    lane, lat, lon = point_on_lane(store, 9, 0.5)
    context, page, errors = phone(chromium, server, "wangge", lat, lon, "/reports/new")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    page.wait_for_function("document.getElementById('rp-pos').dataset.source === 'geolocation'")
    assert "手机定位" in page.inner_text("#rp-pos") and "±12" in page.inner_text("#rp-pos")
    page.set_input_files("#rp-camera", str(photo_path("nikon_d70_no_gps.jpg")))
    page.wait_for_selector("#rp-thumbs img")
    page.select_option("#rp-category", "dumping")
    page.fill("#rp-description", "巷子中段堆放装修垃圾")

    before = store.count("reports")
    context.set_offline(True)  # the send fails: the draft stays on the phone
    page.click("#rp-submit")
    page.wait_for_selector("#rp-retry:not([hidden])")
    assert "草稿已保存" in page.inner_text("#rp-status") and store.count("reports") == before
    page.wait_for_timeout(400)  # the draft is written after a short pause
    page.close()
    context.set_offline(False)
    page = context.new_page()
    page.goto(server + "/reports/new")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#rp-draft:not([hidden])")
    assert page.input_value("#rp-description") == "巷子中段堆放装修垃圾" and page.locator("#rp-thumbs img").count() == 1
    assert page.input_value("#rp-category") == "dumping"
    page.wait_for_function("document.getElementById('rp-pos').dataset.source === 'geolocation'")
    page.click("#rp-submit")
    page.wait_for_selector("#rp-done:not([hidden])", timeout=30_000)
    code = page.get_attribute("#rp-done", "data-code")
    text = page.inner_text("#rp-done-text")
    assert code and code in text and "社区" in text
    context.close()

    row = store.read("reports", where={"code": code}).iloc[0]
    assert row["community_code"] == lane["community_code"] and row["lane_code"] == lane["code"]
    assert row["position_source"] == "geolocation" and row["reporter"] == "wangge"
    fid = int(store.read("reports", where={"code": code}).index[0])
    planner = logged_in(rapp, "planner")
    on_map = planner.get(f"/api/map/reports.geojson?community={row['community_code']}").get_json()
    assert fid in {f["id"] for f in on_map["features"]}

    after = tmp_path / "after.jpg"
    after.write_bytes(with_gps(photo("iphone6_gps_downscaled.jpg"), lat, lon, when=now() + dt.timedelta(minutes=2)))
    context, page, errors2 = phone(chromium, server, "handler", lat, lon, f"/reports/{code}")
    for action in ("accept", "dispatch", "rectify", "verify", "close"):
        form = page.locator(f"form[data-action='{action}']")
        if action == "rectify":
            form.locator("input[type=file]").set_input_files(str(after))
        if action == "close":
            form.locator("input[name=note]").fill("现场已清理干净")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator(".rp-error").count() == 0, page.inner_text(".rp-error")
    assert page.get_attribute("#rp-report", "data-status") == "closed"
    assert page.locator("#rp-events tr[data-action]").count() == 6
    assert page.locator(".rp-photos figure[data-kind='after']").count() == 1
    context.close()
    assert errors == [] and errors2 == []
    popup = planner.get(f"/api/map/reports/{fid}/popup").get_json()["html"]
    assert "结案" in popup and "现场已清理干净" in popup
