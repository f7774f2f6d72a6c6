"""Planner map with many field reports: gisapp's page and view data vs GeoDataFrame.explore().

For 1,000 / 10,000 / 100,000 report points in a fresh GeoPackage store it prints
- the map page: bytes and build time (server), and the time headless Chromium needs until
  every visible layer is drawn (reports layer on, district view: server-side clusters) and
  until the dashboard beside it is complete (chart library loaded after the map data);
- one typical view's data (a street-level bbox, ~600 m across) and the whole-district view:
  bytes and server time;
- explore() on the same points: HTML bytes, build time, and Chromium's time to show it.

Run: .venv/bin/python benchmarks/bench_map.py [--sizes 1000,10000,100000] [--no-browser]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gisapp import create_app  # noqa: E402

BOX = (104.960, 29.160, 105.010, 29.200)  # the subdistrict, roughly
STREET = "104.982,29.178,104.988,29.183"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def make_store(folder: Path, n: int):
    app = create_app({"DATABASE": str(folder / f"bench{n}.gpkg"), "LOAD_DEMO": False, "TESTING": True})
    rng = np.random.default_rng(n)
    pts = shapely.points(rng.uniform(BOX[0], BOX[2], n), rng.uniform(BOX[1], BOX[3], n))
    rows = gpd.GeoDataFrame({"code": [f"R{i:07d}" for i in range(n)], "category": "dead_corner",
                             "status": "reported", "source": "field", "community_code": "510322100031",
                             "reported_at": "2023-06-01T08:00:00Z"}, geometry=pts, crs=4326)
    with app.extensions["gisapp"]["store"].writer("bench") as w:
        w.insert("reports", rows)
    return app, rows


def timed(fn, repeat=5):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def browser_time(url: str, *selectors: str) -> list[float]:
    """Seconds from navigation until the load event, then until each selector appears."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
        t0 = time.perf_counter()
        page.goto(url, wait_until="load", timeout=120_000)
        times = [time.perf_counter() - t0]
        for selector in selectors:
            page.wait_for_selector(selector, timeout=120_000)
            times.append(time.perf_counter() - t0)
        browser.close()
    return times


def serve(app):
    from werkzeug.serving import make_server
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def run(n: int, folder: Path, browser: bool) -> dict:
    app, rows = make_store(folder, n)
    client = app.test_client()
    page_t, page = timed(lambda: client.get("/?layers=reports,communities"))
    view_t, view = timed(lambda: client.get(f"/api/map/reports.geojson?bbox={STREET}"))
    whole_t, whole = timed(lambda: client.get(f"/api/map/reports.geojson?bbox={','.join(map(str, BOX))}"))
    t0 = time.perf_counter()
    html = rows.explore().get_root().render()
    explore_t = time.perf_counter() - t0
    out = {"n": n, "page_kb": len(page.data) / 1024, "page_s": page_t, "view_kb": len(view.data) / 1024,
           "view_ms": view_t * 1000, "whole_kb": len(whole.data) / 1024, "whole_ms": whole_t * 1000,
           "explore_kb": len(html.encode()) / 1024, "explore_s": explore_t}
    if browser and shutil.which("chromium"):
        from flask import Flask
        peer = Flask("explore")
        peer.add_url_rule("/", "explore", lambda: html)
        srv, peer_srv = serve(app), serve(peer)
        _, out["browser_s"], out["dash_s"] = browser_time(
            f"http://127.0.0.1:{srv.server_port}/?layers=reports,communities",
            "body[data-drawn='1']", "body[data-ready='1']")
        (out["explore_browser_s"],) = browser_time(f"http://127.0.0.1:{peer_srv.server_port}/")
        srv.shutdown()
        peer_srv.shutdown()
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gisapp-bench-"))
    rows = [run(int(n), folder, not args.no_browser) for n in args.sizes.split(",")]
    head = ("points", "page KB", "page s", "map shown s", "+dashboard s", "view KB", "view ms", "district KB", "district ms",
            "explore KB", "explore s", "explore browser s")
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for r in rows:
        print(" | ".join([f"{r['n']:,}", f"{r['page_kb']:.0f}", f"{r['page_s']:.3f}", f"{r.get('browser_s', float('nan')):.2f}",
                          f"{r.get('dash_s', float('nan')):.2f}",
                          f"{r['view_kb']:.0f}", f"{r['view_ms']:.0f}", f"{r['whole_kb']:.0f}", f"{r['whole_ms']:.0f}",
                          f"{r['explore_kb']:,.0f}", f"{r['explore_s']:.2f}", f"{r.get('explore_browser_s', float('nan')):.2f}"]))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
