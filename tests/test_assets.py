"""Folium pages must load every JS/CSS/font/image from the app, not a CDN."""

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import folium  # noqa: E402
from flask import Flask  # noqa: E402
from folium.plugins import Draw, MarkerCluster  # noqa: E402

from gisapp import assets  # noqa: E402

STATIC = REPO / "static"
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""")


@pytest.fixture(scope="module")
def app():
    app = Flask(__name__, static_folder=str(STATIC))
    assets.init_app(app)
    return app


@pytest.fixture(scope="module")
def page(app):
    m = folium.Map(location=[31.23, 121.47], zoom_start=12)
    cluster = MarkerCluster().add_to(m)
    folium.Marker([31.23, 121.47], icon=folium.Icon(icon="info-sign")).add_to(cluster)
    folium.Marker(
        [31.24, 121.48], icon=folium.Icon(icon="house", prefix="fa", angle=45)
    ).add_to(m)
    folium.GeoJson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": "area"},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[121.46, 31.22], [121.48, 31.22], [121.48, 31.24], [121.46, 31.22]]
                        ],
                    },
                }
            ],
        },
        name="area",
    ).add_to(m)
    Draw(export=True).add_to(m)
    return m.get_root().render()


def static_file(url, static_url_path="/static"):
    """The file under static/ that a local URL points to."""
    path = urlsplit(url).path
    assert path.startswith(static_url_path + "/"), url
    return STATIC / path[len(static_url_path) + 1:]


def fetch(app, url):
    """GET a local URL through Flask; return (status, body)."""
    with app.test_client() as client:
        response = client.get(url)
        try:
            return response.status_code, response.get_data()
        finally:
            response.close()


def css_refs(css_text):
    """The url(...) references of a CSS file, without data: URIs or fragments."""
    refs = []
    for _, ref in CSS_URL.findall(css_text):
        ref = ref.strip()
        if ref.startswith("data:"):
            continue
        ref = re.split(r"[?#]", ref, maxsplit=1)[0]
        if ref:
            refs.append(ref)
    return refs


def test_vendor_folder_is_complete():
    assert assets.missing_files(STATIC) == []


def test_page_links_no_external_assets(page):
    assert assets.external_asset_urls(page) == []


def test_page_links_the_expected_assets(page):
    urls = assets.asset_urls(page)
    for _, path in (
        assets.LOCAL_JS + assets.LOCAL_CSS
        + assets.MARKERCLUSTER_JS + assets.MARKERCLUSTER_CSS
        + assets.DRAW_JS + assets.DRAW_CSS
    ):
        assert "/static/" + path in urls


def test_every_linked_asset_is_served(app, page):
    urls = assets.asset_urls(page)
    assert len(urls) >= 12
    for url in urls:
        assert static_file(url).is_file(), url
        status, body = fetch(app, url)
        assert status == 200, url
        assert body, url


def test_every_css_reference_is_served(app, page):
    css_urls = [u for u in assets.asset_urls(page) if urlsplit(u).path.endswith(".css")]
    assert css_urls
    checked = 0
    for css_url in css_urls:
        css_text = static_file(css_url).read_text(encoding="utf-8")
        for ref in css_refs(css_text):
            assert not assets.is_external(ref), f"{css_url} refers to {ref}"
            url = urljoin(css_url, ref)
            assert static_file(url).is_file(), f"{css_url}: {ref} -> {url}"
            status, _ = fetch(app, url)
            assert status == 200, url
            checked += 1
    # Fonts of Font Awesome and glyphicons, images of Leaflet and plugins.
    assert checked >= 20


def test_configure_folium_uses_static_url_path(app):
    try:
        assets.configure_folium("/assets/")
        html = folium.Map().get_root().render()
        assert "/assets/vendor/leaflet-1.9.3/leaflet.js" in assets.asset_urls(html)
    finally:
        assets.init_app(app)


def test_stock_folium_links_cdns():
    # A fresh interpreter, so this process's configure_folium() does not apply.
    code = (
        "import folium\n"
        "from folium.plugins import Draw, MarkerCluster\n"
        "m = folium.Map()\n"
        "MarkerCluster().add_to(m)\n"
        "Draw().add_to(m)\n"
        "print(m.get_root().render())\n"
    )
    html = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    external = assets.external_asset_urls(html)
    assert any("leaflet" in u and u.endswith(".js") for u in external)
    assert any("bootstrap-glyphicons.css" in u for u in external)
    assert any("markercluster" in u for u in external)
    assert len(external) >= 13


def test_external_asset_urls_classifies_links():
    html = """
    <html><head>
    <script src="https://cdn.example.org/a.js"></script>
    <script src="//cdn.example.org/b.js"></script>
    <script src="/static/vendor/c.js"></script>
    <script>var inline = 1;</script>
    <link rel="stylesheet" href="HTTP://cdn.example.org/d.css"/>
    <link rel="stylesheet" href="static/e.css"/>
    </head><body><a href="https://example.org/">not an asset</a></body></html>
    """
    assert assets.external_asset_urls(html) == [
        "https://cdn.example.org/a.js",
        "//cdn.example.org/b.js",
        "HTTP://cdn.example.org/d.css",
    ]
