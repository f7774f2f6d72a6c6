"""An optional tile basemap under the static map (``SNAPSHOT_BASEMAP``: none, osm, or a tile URL).

Tiles are fetched with a short timeout and a small time budget; any failure leaves the map
without a basemap (the caller notes it). Tiles are Web Mercator; each is placed on the metric
axes by its projected corners, which at a few kilometres is accurate to well under a pixel's
worth of the map. Never used by the tests.
"""
from __future__ import annotations

import io
import logging
import math
import threading
import time
import urllib.request
from collections import OrderedDict

from pyproj import Transformer

log = logging.getLogger(__name__)

TIMEOUT_S = 2.0
BUDGET_S = 6.0
MAX_TILES = 36
USER_AGENT = "gisapp-snapshot/0.1 (Fushi Subdistrict campaign map)"
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def tile_xy(lon: float, lat: float, z: int) -> tuple[float, float]:
    n = 2 ** z
    x = (lon + 180) / 360 * n
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return x, y


def tile_lonlat(x: float, y: float, z: int) -> tuple[float, float]:
    n = 2 ** z
    lon = x / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    return lon, lat


def _fetch(url: str) -> bytes:
    with _lock:
        if url in _cache:
            return _cache[url]
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
        body = resp.read()
    with _lock:
        _cache[url] = body
        while len(_cache) > 512:
            _cache.popitem(last=False)
    return body


def draw_basemap(ax, bounds, crs: str, url_template: str, dpi: int, width_mm: float) -> bool:
    """Draw tiles covering ``bounds`` (in ``crs``) on ``ax``; False when they could not be had."""
    from PIL import Image
    import numpy as np
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    to_m = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    (w_lon, s_lat), (e_lon, n_lat) = to_ll.transform(bounds[0], bounds[1]), to_ll.transform(bounds[2], bounds[3])
    pixels = width_mm / 25.4 * dpi
    z = max(0, min(19, round(math.log2(pixels / 256 * 360 / max(e_lon - w_lon, 1e-6)))))
    x0, y0 = (int(v) for v in tile_xy(w_lon, n_lat, z))
    x1, y1 = (int(v) for v in tile_xy(e_lon, s_lat, z))
    tiles = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    if len(tiles) > MAX_TILES:
        return False
    start = time.monotonic()
    try:
        for x, y in tiles:
            if time.monotonic() - start > BUDGET_S:
                return False
            body = _fetch(url_template.format(z=z, x=x, y=y, s="a"))
            img = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
            (lw, ln), (le, ls) = tile_lonlat(x, y, z), tile_lonlat(x + 1, y + 1, z)
            (mx0, my1), (mx1, my0) = to_m.transform(lw, ln), to_m.transform(le, ls)
            ax.imshow(img, extent=(mx0, mx1, my0, my1), zorder=0, interpolation="bilinear")
    except (OSError, ValueError) as exc:
        log.warning("basemap unavailable: %s", exc)
        return False
    return True
