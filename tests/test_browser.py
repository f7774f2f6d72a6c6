"""The first page in a real headless Chromium: loads offline, draws every layer, switches language."""
import shutil
import threading
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (scripts/system-deps.sh)")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def server(app):
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        pg = context.new_page()
        yield pg
        browser.close()


def test_page_works_with_no_internet(server, page, tmp_path):
    outside, errors = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    def route(r):
        host = urlsplit(r.request.url).hostname
        if host == "127.0.0.1":
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()  # the intranet: nothing outside answers

    page.route("**/*", route)
    page.goto(server + "/", wait_until="load")
    page.wait_for_selector(".leaflet-control-layers")
    assert outside == [] and errors == []
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("背街小巷" in x for x in labels) and any("农贸市场" in x for x in labels)
    assert page.locator(".leaflet-control-layers-base label").count() == 2
    assert page.locator(".gis-legend").is_visible()
    # vector layers are drawn (canvas renderer) and a feature popup opens with escaped HTML
    assert page.locator("canvas.leaflet-zoom-animated").count() >= 1
    page.evaluate("""() => {
        const map = Object.values(window).find(v => v && v instanceof L.Map);
        let opened = false;
        map.eachLayer(l => { if (!opened && l.feature && l.getPopup && l.getPopup()) { l.openPopup(); opened = true; } });
    }""")
    page.wait_for_selector(".gis-popup h4")
    page.screenshot(path=str(tmp_path / "map.png"))


def test_switch_to_english_and_back(server, page):
    page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
    page.goto(server + "/", wait_until="load")
    page.click("a.gis-lang")
    page.wait_for_selector("text=Fushi Subdistrict campaign map")
    page.goto(server + "/", wait_until="load")  # the choice persists
    assert page.locator(".gis-header strong").inner_text() == "Fushi Subdistrict campaign map"
    page.click("a.gis-lang")
    page.wait_for_selector("text=富世街道创文工作地图")
