"""Helpers and fixtures for the field-report tests (no tests here): real photos,
EXIF rewritten with piexif, API tokens, CSRF tokens, upload helpers."""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import piexif
import pytest

from gisapp import auth

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "testdata" / "photos"
EXIFTOOL = shutil.which("exiftool")
HOUJIE = "510322100031"


def photo_path(name: str) -> Path:
    """A real camera photo from the shared test data (the test is skipped without it)."""
    path = PHOTOS / name
    if not path.is_file():
        pytest.skip(f"test photo missing: {path}")
    return path


def photo(name: str) -> bytes:
    return photo_path(name).read_bytes()


def exiftool_json(path: Path) -> dict:
    if EXIFTOOL is None:
        pytest.skip("exiftool not installed (scripts/system-deps.sh)")
    out = subprocess.run([EXIFTOOL, "-n", "-j", "-a", "-G1", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def _dms(value: float):
    value = abs(value)
    deg = int(value)
    minutes = int((value - deg) * 60)
    seconds = Fraction((value - deg - minutes / 60) * 3600).limit_denominator(1_000_000)
    return ((deg, 1), (minutes, 1), (seconds.numerator, seconds.denominator))


def with_gps(data: bytes, lat: float, lon: float, when: dt.datetime | None = None, alt: float | None = None) -> bytes:
    """A copy of a JPEG whose GPS block (and capture time, if given) is rewritten by piexif."""
    exif = piexif.load(data)
    gps = {piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
           piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S", piexif.GPSIFD.GPSLatitude: _dms(lat),
           piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W", piexif.GPSIFD.GPSLongitude: _dms(lon)}
    if alt is not None:
        gps[piexif.GPSIFD.GPSAltitudeRef] = 0 if alt >= 0 else 1
        gps[piexif.GPSIFD.GPSAltitude] = (int(abs(alt) * 100), 100)
    if when is not None:
        utc = when.astimezone(dt.timezone.utc)
        gps[piexif.GPSIFD.GPSDateStamp] = utc.strftime("%Y:%m:%d").encode()
        gps[piexif.GPSIFD.GPSTimeStamp] = ((utc.hour, 1), (utc.minute, 1), (utc.second, 1))
        local = utc.astimezone(dt.timezone(dt.timedelta(hours=8)))
        exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = local.strftime("%Y:%m:%d %H:%M:%S").encode()
        exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal] = b"+08:00"
    exif["GPS"] = gps
    exif.pop("thumbnail", None)
    exif["1st"] = {}
    out = io.BytesIO()
    piexif.insert(piexif.dump(exif), data, out)
    return out.getvalue()


def point_on_lane(store, index: int = 0, fraction: float = 0.5):
    lanes = store.read("back_lanes")
    geom = lanes.geometry.iloc[index]
    p = geom.interpolate(fraction, normalized=True)
    return lanes.iloc[index], p.y, p.x


def bearer(app, role_user: str) -> dict:
    token = auth.create_token(app.extensions["gisapp"]["store"], role_user, "tests", "admin")
    return {"Authorization": f"Bearer {token}"}


def csrf_token(client) -> str:
    page = client.get("/reports/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def upload(client, headers: dict, files: list[tuple[bytes, str]], **form):
    data = {"category": "dumping", "description": "测试", **form,
            "media": [(io.BytesIO(content), name) for content, name in files]}
    return client.post("/api/reports", data=data, headers=headers, content_type="multipart/form-data")


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if p.is_file()) if Path(folder).exists() else []


@pytest.fixture
def rapp(app, tmp_path):
    """The demo app with photos stored in a temporary folder."""
    app.config["REPORT_UPLOADS"] = str(tmp_path / "uploads")
    return app


def upload_worker(db: str, uploads: str, n: int, seed: int, lat: float, lon: float) -> list[str]:
    """In a separate process: open the app on the same store, upload n reports, return their codes."""
    from gisapp import create_app
    app = create_app({"DATABASE": db, "TESTING": True, "REPORT_UPLOADS": uploads, "LOAD_DEMO": False})
    headers = bearer(app, "wangge")
    client = app.test_client()
    data = photo("nikon_d70_no_gps.jpg")
    codes = []
    for i in range(n):
        resp = upload(client, headers, [(data, f"p{seed}-{i}.jpg")], lat=str(lat + 0.0004 * i), long=str(lon),
                      position_source="geolocation", accuracy="10", category="other")
        assert resp.status_code == 201, resp.get_data(as_text=True)
        codes.append(resp.get_json()["service_request"]["service_request_id"])
    return codes


def killed_upload(db: str, uploads: str, lat: float, lon: float, moment: str, description: str) -> None:
    """In a separate process: an upload whose process is SIGKILLed at ``moment``: ``in_transaction``
    (rows written, not committed) or ``after_commit`` (committed, files not yet moved into place)."""
    import os
    import signal
    from gisapp import create_app
    from gisapp.reports import files, service
    die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731
    if moment == "in_transaction":
        service.event_row = die  # inside the writer, after the report and photo rows
    else:
        files.PhotoFiles.publish = die
    app = create_app({"DATABASE": db, "TESTING": True, "REPORT_UPLOADS": uploads, "LOAD_DEMO": False})
    upload(app.test_client(), bearer(app, "wangge"), [(photo("nikon_d70_no_gps.jpg"), "k.jpg")] * 2, lat=str(lat),
           long=str(lon), position_source="geolocation", description=description)
    raise AssertionError("not killed")
