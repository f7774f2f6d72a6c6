"""Configuration: defaults, then ``instance/gisapp.toml``, then ``GISAPP_*``
environment variables, then the ``config`` mapping given to the factory."""
from __future__ import annotations

import secrets
import tomllib
from pathlib import Path

from flask import Flask

from .errors import StartupError

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "DATABASE": None,  # a .gpkg path or postgresql:// URL; default: instance/gisapp.gpkg
    "LAYERS_DIR": str(ROOT / "layers"),
    "LOAD_DEMO": True,  # create and fill the demo store when the database does not exist yet
    "DEMO_SEED": 2023,
    "DEFAULT_LANG": "zh",
    "BASEMAP": "none",  # none | osm | tianditu | amap: what the map opens with; the others stay selectable
    "OSM_TILES": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "AMAP_TILES": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
    "TIANDITU_KEY": None,  # a Tianditu (天地图) key "tk" adds that basemap
    "MAP_CENTER": [29.183, 104.983],
    "MAP_ZOOM": 14,
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "STALE_WEEKS": 4,  # data quality: an unfinished work with no record for this long is flagged
    "PUBLIC_VIEW": False,  # anonymous visitors may see public layers (no personal data) on the map
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # set true when served over HTTPS
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,
    # field reports (gisapp.reports, docs/reports.md)
    "REPORT_UPLOADS": None,  # private folder for photos and import files; default: instance/uploads
    "REPORT_MAX_PHOTO_MB": 15,  # per photo
    "REPORT_MAX_PHOTOS": 6,  # per upload
    "REPORT_MAX_PIXELS": 40_000_000,  # larger images are refused as decompression bombs
    "REPORT_AREA_MARGIN_M": 200,  # positions this far outside the subdistrict are still accepted
    "REPORT_LANE_DISTANCE_M": 30,  # nearest back lane within this distance
    "REPORT_LANE_TIE_M": 5,  # lanes within this many metres of the nearest are offered too
    "REPORT_DUPLICATE_RADIUS_M": 30,
    "REPORT_DUPLICATE_DAYS": 7,
    "REPORT_DUE_DAYS": 7,  # open longer than this: overdue
    "REPORT_AFTER_RADIUS_M": 100,  # an "after" photo must be taken this near the report
    "REPORT_CAMERA_UTC_OFFSET_H": 8,  # EXIF times without an offset are Beijing time
    "IMPORT_MAX_UNCOMPRESSED_MB": 2048,  # zip safety: total uncompressed size
    "IMPORT_MAX_RATIO": 200,  # zip safety: uncompressed / compressed size per entry
    "IMPORT_MAX_ENTRIES": 10_000,
}


def load_config(app: Flask, overrides: dict | None) -> None:
    app.config.from_mapping(DEFAULTS)
    try:
        app.config.from_file("gisapp.toml", load=tomllib.load, text=False, silent=True)
    except tomllib.TOMLDecodeError as exc:
        raise StartupError(f"{Path(app.instance_path) / 'gisapp.toml'}: not valid TOML: {exc}") from None
    app.config.from_prefixed_env("GISAPP")
    if overrides:
        app.config.update(overrides)
    if not app.config.get("DATABASE"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["DATABASE"] = str(Path(app.instance_path) / "gisapp.gpkg")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))


def _instance_secret(folder: Path) -> str:
    """A secret key kept in the instance folder, made on first start."""
    path = folder / "secret_key"
    try:
        if path.exists():
            return path.read_text().strip()
        folder.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key
    except OSError:
        return secrets.token_hex(32)  # read-only deployment: sessions end on restart
