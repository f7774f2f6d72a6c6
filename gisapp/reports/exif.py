"""EXIF of a photo: GPS position, altitude, time and orientation, read tolerantly.

Cameras and phones write GPS in several forms: degrees/minutes/seconds as three
rationals, decimal degrees as one rational, signed values without a reference,
references as text or bytes (padded with NULs), an XMP packet instead of EXIF.
Broken EXIF never raises: what cannot be read is left out and noted in
``PhotoMeta.warnings``.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from PIL import Image

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
ORIENTATION, DATETIME = 0x0112, 0x0132
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
# GPS tags
LAT_REF, LAT, LON_REF, LON, ALT_REF, ALT, TIME, STATUS, DATE, H_ERROR = 1, 2, 3, 4, 5, 6, 7, 9, 29, 31


@dataclass
class PhotoMeta:
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    accuracy_m: float | None = None  # GPSHPositioningError, when the camera wrote it
    gps_time: dt.datetime | None = None  # UTC
    gps_void: bool = False  # GPSStatus 'V': the receiver had no fix
    taken_at: dt.datetime | None = None  # UTC
    taken_at_source: str | None = None  # gps | exif
    orientation: int = 1
    warnings: list[str] = field(default_factory=list)

    @property
    def has_position(self) -> bool:
        return self.lat is not None and self.lon is not None


def rational(value) -> float | None:
    """A number from an EXIF rational in any form (IFDRational, (num, den), int, float, text)."""
    try:
        if isinstance(value, (tuple, list)) and len(value) == 2:
            num, den = float(value[0]), float(value[1])
            out = num / den if den else math.nan
        elif isinstance(value, (bytes, bytearray)):
            out = float(value.decode("ascii", "ignore").strip("\x00 "))
        else:
            out = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return out if math.isfinite(out) else None


def _parts(value) -> list:
    if isinstance(value, (tuple, list)):
        if len(value) == 6 and all(isinstance(v, int) for v in value):  # flattened (num, den) pairs
            return [value[i:i + 2] for i in (0, 2, 4)]
        return list(value)
    return [value]


def dms(value) -> float | None:
    """Degrees from (deg, min, sec) rationals, (deg, min) or one decimal value."""
    parts = [rational(p) for p in _parts(value)][:3]
    if not parts or any(p is None for p in parts):
        return None
    deg = parts[0]
    sign = -1.0 if deg < 0 else 1.0
    for i, p in enumerate(parts[1:], start=1):
        deg += sign * abs(p) / (60.0 ** i)
    return deg


def ref(value) -> str:
    """'N', 'S', 'E', 'W' (or '' when unreadable) from text or bytes padded with NULs/spaces."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("ascii", "ignore")
    return str(value or "").strip("\x00 ").upper()[:1]


def _signed(value, reference: str, negative: str) -> float | None:
    deg = dms(value)
    if deg is None:
        return None
    return -abs(deg) if reference == negative else (abs(deg) if reference else deg)


def _exif_time(text) -> dt.datetime | None:
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("ascii", "ignore")
    m = re.match(r"\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})", str(text or ""))
    if not m:
        return None
    try:
        return dt.datetime(*map(int, m.groups()))
    except ValueError:  # 0000:00:00 00:00:00 and other placeholders
        return None


def _offset(text) -> dt.timedelta | None:
    m = re.fullmatch(r"\s*([+-])(\d{2}):?(\d{2})\s*", str(text or "").strip("\x00"))
    if not m:
        return None
    delta = dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return -delta if m.group(1) == "-" else delta


def gps_datetime(date_stamp, time_stamp) -> dt.datetime | None:
    """UTC from GPSDateStamp ('YYYY:MM:DD') and GPSTimeStamp (h, m, s rationals)."""
    day = _exif_time(f"{(date_stamp or '')!s} 00:00:00".strip("\x00")) if date_stamp else None
    parts = [rational(p) for p in _parts(time_stamp)] if time_stamp is not None else []
    if day is None or len(parts) != 3 or any(p is None for p in parts):
        return None
    h, m, s = parts
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 61):
        return None
    return (day + dt.timedelta(hours=h, minutes=m, seconds=s)).replace(tzinfo=dt.timezone.utc)


def read_gps(gps: dict, meta: PhotoMeta) -> None:
    """Fill position, altitude, accuracy and GPS time from a GPS IFD (tag -> value)."""
    lat = _signed(gps.get(LAT), ref(gps.get(LAT_REF)), "S")
    lon = _signed(gps.get(LON), ref(gps.get(LON_REF)), "W")
    if lat is not None and lon is not None:
        if abs(lat) > 90 or abs(lon) > 180:
            meta.warnings.append(f"GPS position out of range: {lat}, {lon}")
        elif lat == 0 and lon == 0:
            meta.warnings.append("GPS position 0, 0 (no fix)")
        else:
            meta.lat, meta.lon = lat, lon
    alt = rational(gps.get(ALT)) if gps.get(ALT) is not None else None
    if alt is not None:
        below = gps.get(ALT_REF) in (1, b"\x01", "1")
        meta.alt = -abs(alt) if below else alt
    error = rational(gps.get(H_ERROR)) if gps.get(H_ERROR) is not None else None
    meta.accuracy_m = error if error is not None and error >= 0 else None
    meta.gps_void = ref(gps.get(STATUS)) == "V"
    meta.gps_time = gps_datetime(gps.get(DATE), gps.get(TIME))


XMP_GPS = re.compile(r"exif:GPS(Latitude|Longitude)\s*(?:=\s*[\"']|>)\s*(\d+),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?([NSEW])")


def read_xmp_gps(xmp, meta: PhotoMeta) -> None:
    """GPS from an XMP packet (exif:GPSLatitude="29,10.98N"), used when EXIF has none."""
    if isinstance(xmp, (bytes, bytearray)):
        xmp = xmp.decode("utf-8", "ignore")
    found = {}
    for axis, deg, minutes, seconds, hemi in XMP_GPS.findall(str(xmp or "")):
        value = float(deg) + float(minutes) / 60 + (float(seconds) / 3600 if seconds else 0)
        found[axis] = -value if hemi in "SW" else value
    lat, lon = found.get("Latitude"), found.get("Longitude")
    if lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180 and (lat, lon) != (0, 0):
        meta.lat, meta.lon = lat, lon


def _safe(meta: PhotoMeta, what: str, func, *args):
    try:
        return func(*args)
    except Exception as exc:  # broken EXIF of any kind must not fail an upload
        meta.warnings.append(f"{what}: {type(exc).__name__}: {exc}"[:200])
        return None


def read_meta(image: Image.Image, camera_utc_offset_h: float = 8) -> PhotoMeta:
    """Position, time and orientation of an opened image; never raises."""
    meta = PhotoMeta()
    exif = _safe(meta, "EXIF", image.getexif)
    if exif is not None:
        gps = _safe(meta, "GPS IFD", exif.get_ifd, GPS_IFD) or {}
        if gps:
            _safe(meta, "GPS", read_gps, dict(gps), meta)
        sub = _safe(meta, "EXIF IFD", exif.get_ifd, EXIF_IFD) or {}
        orientation = exif.get(ORIENTATION)
        meta.orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
        _safe(meta, "time", _taken_at, meta, exif, sub, camera_utc_offset_h)
    if not meta.has_position:
        xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
        if xmp:
            _safe(meta, "XMP", read_xmp_gps, xmp, meta)
    return meta


def _taken_at(meta: PhotoMeta, exif, sub, offset_h: float) -> None:
    """UTC time of capture: DateTimeOriginal with its offset, else GPS time, else local camera time."""
    local = _exif_time(sub.get(DATETIME_ORIGINAL)) or _exif_time(exif.get(DATETIME))
    offset = _offset(sub.get(OFFSET_TIME_ORIGINAL))
    if local is not None and offset is not None:
        meta.taken_at, meta.taken_at_source = (local - offset).replace(tzinfo=dt.timezone.utc), "exif"
    elif meta.gps_time is not None:
        meta.taken_at, meta.taken_at_source = meta.gps_time, "gps"
    elif local is not None:
        utc = local - dt.timedelta(hours=offset_h)
        meta.taken_at, meta.taken_at_source = utc.replace(tzinfo=dt.timezone.utc), "exif"
