"""Serve every JS/CSS asset of folium pages from the app's own static folder.

Folium links Leaflet, Bootstrap, Font Awesome and its plugins from public
CDNs. The app runs on an intranet without internet access, so
configure_folium() points folium at the copies under static/vendor/
(built by scripts/vendor-assets.sh). Paths below are relative to the
static folder; the names are folium's own, so pages keep de-duplicating
links by name.
"""

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import folium
from folium.plugins import Draw, MarkerCluster

# Mirrors folium.Map.default_js / default_css (folium 0.20).
LOCAL_JS = [
    ("leaflet", "vendor/leaflet-1.9.3/leaflet.js"),
    ("jquery", "vendor/jquery-3.7.1/jquery.min.js"),
    ("bootstrap", "vendor/bootstrap-5.2.2/js/bootstrap.bundle.min.js"),
    ("awesome_markers", "vendor/leaflet.awesome-markers-2.0.2/leaflet.awesome-markers.js"),
]
LOCAL_CSS = [
    ("leaflet_css", "vendor/leaflet-1.9.3/leaflet.css"),
    ("bootstrap_css", "vendor/bootstrap-5.2.2/css/bootstrap.min.css"),
    ("glyphicons_css", "vendor/bootstrap-3.4.1/css/bootstrap-glyphicons.css"),
    ("awesome_markers_font_css", "vendor/fontawesome-free-6.2.0/css/all.min.css"),
    ("awesome_markers_css", "vendor/leaflet.awesome-markers-2.0.2/leaflet.awesome-markers.css"),
    ("awesome_rotate_css", "vendor/folium/leaflet.awesome.rotate.min.css"),
]

MARKERCLUSTER_JS = [
    ("markerclusterjs", "vendor/leaflet.markercluster-1.5.3/leaflet.markercluster.js"),
]
MARKERCLUSTER_CSS = [
    ("markerclustercss", "vendor/leaflet.markercluster-1.5.3/MarkerCluster.css"),
    ("markerclusterdefaultcss", "vendor/leaflet.markercluster-1.5.3/MarkerCluster.Default.css"),
]

DRAW_JS = [("leaflet_draw_js", "vendor/leaflet-draw-1.0.4/leaflet.draw.js")]
DRAW_CSS = [("leaflet_draw_css", "vendor/leaflet-draw-1.0.4/leaflet.draw.css")]

# Not used by folium; for pages with charts.
ECHARTS_JS = "vendor/echarts-5.6.0/echarts.min.js"

# folium class -> (js list, css list). Add a plugin here to serve it locally.
FOLIUM_ASSETS = {
    folium.Map: (LOCAL_JS, LOCAL_CSS),
    MarkerCluster: (MARKERCLUSTER_JS, MARKERCLUSTER_CSS),
    Draw: (DRAW_JS, DRAW_CSS),
}


def local_paths():
    """Every vendored path (relative to the static folder) that folium may link."""
    paths = [ECHARTS_JS]
    for js, css in FOLIUM_ASSETS.values():
        paths.extend(path for _, path in js + css)
    return paths


def missing_files(static_folder):
    """The vendored paths that do not exist under static_folder."""
    return [p for p in local_paths() if not (Path(static_folder) / p).is_file()]


def configure_folium(static_url_path="/static"):
    """Point the folium classes in FOLIUM_ASSETS at local URLs.

    Sets class attributes, so it affects every map rendered afterwards in
    this process. Calling it again simply replaces the URLs.
    """
    prefix = (static_url_path or "").rstrip("/")
    for cls, (js, css) in FOLIUM_ASSETS.items():
        # New lists: folium's add_js_link() mutates these in place.
        cls.default_js = [(name, f"{prefix}/{path}") for name, path in js]
        cls.default_css = [(name, f"{prefix}/{path}") for name, path in css]


class _LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def asset_urls(html):
    """Every src of a <script> and href of a <link> in the page, in order."""
    parser = _LinkCollector()
    parser.feed(html)
    parser.close()
    return parser.urls


def is_external(url):
    """True for absolute http(s) URLs and protocol-relative //host/... URLs."""
    parts = urlsplit(url.strip())
    return bool(parts.netloc) or parts.scheme.lower() in ("http", "https")


def external_asset_urls(html: str) -> list[str]:
    """The script/link URLs of a rendered page that are not served locally.

    Map tiles are loaded by Leaflet from JavaScript and are not checked here.
    """
    return [url for url in asset_urls(html) if is_external(url)]


def init_app(app):
    """Serve folium's assets from this app's static folder."""
    if app.static_url_path is None:
        raise RuntimeError("gisapp.assets needs a Flask app with a static folder")
    configure_folium(app.static_url_path)
    missing = missing_files(app.static_folder)
    if missing:
        app.logger.warning(
            "%d vendored asset(s) missing under %s (run scripts/vendor-assets.sh): %s",
            len(missing), app.static_folder, ", ".join(missing),
        )
