"""EXIF GPS, time and orientation from real camera files, checked against exiftool;
broken EXIF never fails; display copies are upright and carry no metadata."""
import datetime as dt
import io
import struct

import pytest
from PIL import Image

from gisapp.reports.exif import dms, gps_datetime, rational, read_meta, ref
from gisapp.reports.images import NotAnImage, PhotoRefused, PhotoTooLarge, process

from test_reports_support import PHOTOS, exiftool_json, photo, with_gps

LIMITS = dict(max_bytes=15_000_000, max_pixels=40_000_000)


@pytest.mark.parametrize("name", ["nikon_coolpix_p6000_gps.jpg", "iphone6_gps_downscaled.jpg"])
def test_gps_matches_exiftool(name):
    data = photo(name)  # skips when the shared photos are absent
    truth = exiftool_json(PHOTOS / name)
    meta = process(data, name, **LIMITS).meta
    assert meta.lat == pytest.approx(truth["Composite:GPSLatitude"], abs=1e-6)
    assert meta.lon == pytest.approx(truth["Composite:GPSLongitude"], abs=1e-6)
    if "Composite:GPSAltitude" in truth:
        assert meta.alt == pytest.approx(truth["Composite:GPSAltitude"], abs=1e-3)
    stamp = dt.datetime.strptime(truth["GPS:GPSDateStamp"], "%Y:%m:%d")
    h, m, s = (float(v) for v in str(truth["GPS:GPSTimeStamp"]).split(":"))
    expected = stamp.replace(tzinfo=dt.timezone.utc) + dt.timedelta(hours=h, minutes=m, seconds=s)
    assert abs((meta.gps_time - expected).total_seconds()) < 0.01


def test_iphone_west_longitude_is_negative():
    meta = process(photo("iphone6_gps_downscaled.jpg"), "x", **LIMITS).meta
    assert meta.lon < 0 < meta.lat and meta.alt > 600


@pytest.mark.parametrize("name", ["nikon_d70_no_gps.jpg", "orientation_6_no_gps.jpg"])
def test_photos_without_gps_have_no_position(name):
    meta = process(photo(name), name, **LIMITS).meta
    assert meta.lat is None and meta.lon is None and not meta.has_position and meta.warnings == []


def test_orientation_6_display_copy_is_upright_without_exif(tmp_path):
    p = process(photo("orientation_6_no_gps.jpg"), "o6.jpg", **LIMITS)
    original = Image.open(io.BytesIO(p.original))
    assert original.size == (450, 600) and p.meta.orientation == 6
    for data in (p.display, p.thumb):
        image = Image.open(io.BytesIO(data))
        assert image.width > image.height  # rotated 90° for display
        assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
        path = tmp_path / "copy.jpg"
        path.write_bytes(data)
        tags = exiftool_json(path)
        assert not [k for k in tags if k.split(":")[0] in ("IFD0", "ExifIFD", "GPS", "XMP-x", "XMP-exif", "IFD1")]
    # the upright copy matches the original turned 90° clockwise, not the other way round
    upright = Image.open(io.BytesIO(p.display)).convert("L")

    def diff(transpose):
        turned = original.convert("L").transpose(transpose)
        return sum(abs(a - b) for a, b in zip(upright.tobytes(), turned.tobytes())) / (upright.width * upright.height)
    assert diff(Image.Transpose.ROTATE_270) < 20 < 50 < diff(Image.Transpose.ROTATE_90)


def test_gps_display_copy_has_no_gps(tmp_path):
    p = process(photo("nikon_coolpix_p6000_gps.jpg"), "gps.jpg", **LIMITS)
    path = tmp_path / "display.jpg"
    path.write_bytes(p.display)
    assert not any(k.startswith("GPS:") or k.startswith("Composite:GPS") for k in exiftool_json(path))
    assert Image.open(io.BytesIO(p.original)).getexif().get_ifd(0x8825)  # the original keeps it (private)


def test_rewritten_gps_reads_back_to_a_micro_degree(tmp_path):
    data = with_gps(photo("nikon_coolpix_p6000_gps.jpg"), 29.1734567, 104.9812345, alt=-3.5,
                    when=dt.datetime(2024, 3, 1, 2, 3, 4, tzinfo=dt.timezone.utc))
    path = tmp_path / "rewritten.jpg"
    path.write_bytes(data)
    truth = exiftool_json(path)
    meta = process(data, "r.jpg", **LIMITS).meta
    assert meta.lat == pytest.approx(truth["Composite:GPSLatitude"], abs=1e-6) == pytest.approx(29.1734567, abs=1e-6)
    assert meta.lon == pytest.approx(truth["Composite:GPSLongitude"], abs=1e-6)
    assert meta.alt == pytest.approx(-3.5)
    assert meta.taken_at == dt.datetime(2024, 3, 1, 2, 3, 4, tzinfo=dt.timezone.utc) and meta.taken_at_source == "exif"


def _jpeg_with_app1(payload: bytes) -> bytes:
    base = io.BytesIO()
    Image.new("RGB", (32, 24), "red").save(base, "JPEG")
    data = base.getvalue()
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]


def _tiff_with_gps(entries: bytes, count: int) -> bytes:
    """Exif\\0\\0 + a little-endian TIFF: IFD0 with a GPS pointer, then a GPS IFD."""
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x8825, 4, 1, 26) + struct.pack("<I", 0)
    gps = struct.pack("<H", count) + entries + struct.pack("<I", 0)
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd0 + gps


@pytest.mark.parametrize("payload", [
    b"Exif\x00\x00" + b"II*\x00" + b"\xff\xff\xff\x7f",  # IFD offset far beyond the data
    b"Exif\x00\x00" + b"MM\x00*" + b"\x00\x00\x00\x08" + b"\xff\xff" + b"\x00" * 6,  # 65535 entries, none there
    _tiff_with_gps(struct.pack("<HHII", 2, 5, 3, 0xFFFFFF00), 1),  # GPS latitude pointing nowhere
    _tiff_with_gps(struct.pack("<HHII", 1, 2, 2, 0x4E) + struct.pack("<HHII", 2, 5, 3, 0), 2),  # rationals at offset 0
    b"Exif\x00\x00garbage",
])
def test_broken_exif_never_fails_an_upload(payload):
    p = process(_jpeg_with_app1(payload), "broken.jpg", **LIMITS)
    assert p.width == 32 and p.meta.lat is None and p.meta.orientation == 1


def test_rational_forms():
    assert rational((491, 10)) == 49.1 and rational(3) == 3.0 and rational(b"12.5\x00") == 12.5
    assert rational((1, 0)) is None and rational(float("nan")) is None and rational("x") is None
    assert dms(((40, 1), (26, 1), (491, 10))) == pytest.approx(40 + 26 / 60 + 49.1 / 3600)
    assert dms((40, 1, 26, 1, 491, 10)) == pytest.approx(40 + 26 / 60 + 49.1 / 3600)  # flattened pairs
    assert dms(29.5) == 29.5 and dms((-29, 30)) == pytest.approx(-29.5)
    assert ref(b"S\x00") == "S" and ref("w ") == "W" and ref(None) == ""
    assert gps_datetime("2015:04:10", ((18, 1), (12, 1), (2206, 100))) == \
        dt.datetime(2015, 4, 10, 18, 12, 22, 60000, tzinfo=dt.timezone.utc)
    assert gps_datetime("0000:00:00", (0, 0, 0)) is None and gps_datetime(None, None) is None


def test_xmp_only_gps_is_read():
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="29,10.5N" '
           b'exif:GPSLongitude="104,58,48.6E"/></rdf:RDF></x:xmpmeta>')
    image = Image.new("RGB", (8, 8))
    image.info["xmp"] = xmp
    meta = read_meta(image)
    assert meta.lat == pytest.approx(29.175) and meta.lon == pytest.approx(104 + 58 / 60 + 48.6 / 3600)


def test_bad_files_are_refused_with_clear_messages():
    jpeg = photo("nikon_coolpix_p6000_gps.jpg")
    with pytest.raises(PhotoRefused) as truncated:
        process(jpeg[: len(jpeg) * 6 // 10], "cut.jpg", **LIMITS)
    assert "损坏或不完整" in truncated.value.message("zh") and "truncated" in truncated.value.message("en")
    with pytest.raises(NotAnImage):
        process("这不是图片\n".encode() * 50, "note.jpg", **LIMITS)
    with pytest.raises(PhotoTooLarge):
        process(jpeg, "big.jpg", max_bytes=100_000, max_pixels=40_000_000)
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, "PNG")
    with pytest.raises(PhotoRefused) as exc:
        process(bomb.getvalue(), "bomb.png", **LIMITS)
    assert "解压炸弹" in exc.value.message("zh") and len(bomb.getvalue()) < 1_000_000


def _heic(jpeg: bytes) -> bytes:
    """The JPEG re-encoded as HEIC (what an iPhone shoots), its EXIF carried over."""
    source = Image.open(io.BytesIO(jpeg))
    out = io.BytesIO()
    source.save(out, format="HEIF", exif=source.info.get("exif"), quality=80)
    return out.getvalue()


@pytest.mark.parametrize("name", ["nikon_coolpix_p6000_gps.jpg", "iphone6_gps_downscaled.jpg"])
def test_heic_photos_are_read_like_jpeg(name, tmp_path):
    path = tmp_path / "photo.heic"
    path.write_bytes(_heic(photo(name)))
    truth = exiftool_json(path)
    assert truth["File:FileType"] == "HEIC"
    p = process(path.read_bytes(), "photo.heic", **LIMITS)
    assert p.content_type == "image/heic" and p.ext == "heic" and p.original == path.read_bytes()
    assert p.meta.lat == pytest.approx(truth["Composite:GPSLatitude"], abs=1e-6)
    assert p.meta.lon == pytest.approx(truth["Composite:GPSLongitude"], abs=1e-6)
    display = Image.open(io.BytesIO(p.display))
    assert display.format == "JPEG" and not display.getexif()


def test_heic_with_rotation_is_shown_upright_once():
    jpeg = process(photo("orientation_6_no_gps.jpg"), "o6.jpg", **LIMITS)
    heic = process(_heic(photo("orientation_6_no_gps.jpg")), "o6.heic", **LIMITS)
    a, b = (Image.open(io.BytesIO(p.display)).convert("L") for p in (jpeg, heic))
    assert a.size == b.size and a.width > a.height  # turned once, as the JPEG is
    assert sum(abs(x - y) for x, y in zip(a.tobytes(), b.tobytes())) / (a.width * a.height) < 12


def test_truncated_heic_is_refused():
    data = _heic(photo("nikon_d70_no_gps.jpg"))
    with pytest.raises(PhotoRefused):
        process(data[: len(data) // 2], "cut.heic", **LIMITS)
