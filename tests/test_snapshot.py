"""Area snapshots and the atlas, without HTTP: areas, figures, maps, PDFs read back with poppler."""
import datetime as dt
import io
import re
import shutil
import subprocess

import geopandas as gpd
import pytest
import shapely
from PIL import Image

from gisapp import create_app
from gisapp.errors import BadRequest, NotFound
from gisapp.figures import compute
from gisapp.snapshot import Options, atlas_pdf, build_atlas, load_data, make_snapshot, resolve_area, select, snapshot_pdf
from gisapp.snapshot.areas import buffer_m, metric_crs, parse_bbox
from gisapp.snapshot.fontcache import pdf_font
from gisapp.snapshot.fonts import find_font
from gisapp.snapshot.mapplot import nice_length
from gisapp.snapshot.photos import column_lookup, thumbnail

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed (scripts/system-deps.sh)")
HOUJIE = "510322100031"  # 后街社区
OPTS = dict(font_build="sync")


def pdftotext(pdf: bytes, first: int | None = None, last: int | None = None) -> str:
    args = ["pdftotext", "-layout", *(["-f", str(first)] if first else []), *(["-l", str(last)] if last else []), "-", "-"]
    return subprocess.run(args, input=pdf, capture_output=True, check=True).stdout.decode("utf-8")


def pdfinfo(pdf: bytes) -> dict:
    out = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def first_page_png(pdf: bytes, dpi: int = 60) -> Image.Image:
    png = subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-f", "1", "-l", "1", "-"], input=pdf,
                         capture_output=True, check=True).stdout
    return Image.open(io.BytesIO(png)).convert("RGB")


@pytest.fixture(scope="module")
def mod_app(demo_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("snapshot") / "demo.gpkg"
    shutil.copy(demo_db, path)
    return create_app({"DATABASE": str(path), "TESTING": True})


@pytest.fixture(scope="module")
def mod_store(mod_app):
    return mod_app.extensions["gisapp"]["store"]


@pytest.fixture(scope="module")
def figures(mod_app):
    return mod_app.extensions["gisapp"]["figures"]


@pytest.fixture(scope="module")
def data(mod_store):
    return load_data(mod_store)


@pytest.fixture(scope="module")
def atlas(mod_store, figures, data):
    opts = Options(**OPTS)
    doc = build_atlas(mod_store, figures, opts, data=data)
    return doc, *atlas_pdf(doc, opts)


# -- areas -----------------------------------------------------------------------------------
def test_areas_resolve_by_code_or_name(data, mod_store):
    by_code = resolve_area(data.layers, mod_store.registry, "community", HOUJIE)
    by_name = resolve_area(data.layers, mod_store.registry, "community", "后街社区")
    assert by_code.name == by_name.name == "后街社区" and by_code.key == by_name.key == HOUJIE
    assert resolve_area(data.layers, mod_store.registry, "market", "SC01").name == "吉安庄农贸市场"


@pytest.mark.parametrize("kind, key", [("community", "nope"), ("lane", "BJ99"), ("area", "<b>x</b>"), ("planet", "x")])
def test_unknown_area_is_not_found_in_both_languages(data, mod_store, kind, key):
    with pytest.raises(NotFound) as err:
        resolve_area(data.layers, mod_store.registry, kind, key)
    assert err.value.message("zh") and err.value.message("en") != err.value.message("zh")
    assert key[:10] in err.value.message("en") or kind in err.value.message("en")


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "3,2,1,4", "104,29,105.1,29.1", "nan,1,2,3", "1,100,2,101"])
def test_bad_rectangles_are_refused(text):
    with pytest.raises(BadRequest):
        parse_bbox(text)


def test_lane_area_is_the_lane_widened_by_30_m(data, mod_store):
    area = resolve_area(data.layers, mod_store.registry, "lane", "BJ05")
    lane = data.layers["back_lanes"].set_index("code").loc["BJ05"]
    crs = metric_crs(area.geometry)
    reach = gpd.GeoSeries([area.geometry], crs="EPSG:4326").to_crs(crs).iloc[0]
    line = gpd.GeoSeries([lane.geometry], crs="EPSG:4326").to_crs(crs).iloc[0]
    ends = 3.14159 * 30 ** 2  # the two round caps make one disc
    assert reach.contains(line) and 58 < (reach.area - ends) / line.length < 61  # 2 × 30 m wide
    assert crs == "EPSG:4544" and metric_crs(shapely.Point(10, 10)).startswith("+proj=tmerc")
    assert buffer_m(shapely.Point(105, 29), 100).area > 0


def test_bbox_selects_by_intersection(data, mod_store):
    lane = data.layers["back_lanes"].set_index("code").loc["BJ05"].geometry
    x0, y0, x1, y1 = lane.bounds
    area = resolve_area(data.layers, mod_store.registry, "bbox", f"{x0},{y0},{(x0 + x1) / 2},{y1}")
    sel = select(data, area)
    assert "BJ05" in set(sel.layers["back_lanes"]["code"])  # the lane crosses the rectangle: it counts
    assert sel.tables["activity_log"] is None  # rows without position are not located in a rectangle


# -- figures ---------------------------------------------------------------------------------
def test_atlas_pages_add_up_to_the_subdistrict_totals(atlas, mod_store, figures, data):
    doc, _, _ = atlas
    assert len(doc.pages) == 21
    computed = {f["key"]: f["value"] for f in compute(mod_store, figures, data.as_of)}
    for key, total in computed.items():
        parts = [next(t for t in page.summary["targets"] if t["key"] == key)["value"] for page in doc.pages]
        assert sum(parts) == pytest.approx(total), key
        subdistrict = next(t for t in doc.pages[0].summary["targets"] if t["key"] == key)["subdistrict"]
        assert subdistrict == pytest.approx(total), key
    cover_works = {w["layer"]: w for w in doc.cover.summary["works"]}
    for layer, cover in cover_works.items():
        rows = [w for p in doc.pages for w in p.summary["works"] if w["layer"] == layer]
        assert sum(w["count"] for w in rows) == cover["count"], layer
        for status, n in cover["by_status"].items():
            assert sum(w["by_status"][status] for w in rows) == n, (layer, status)
        for i, q in enumerate(cover["quantities"]):
            assert sum(w["quantities"][i]["value"] for w in rows) == pytest.approx(q["value"]), (layer, q["key"])
    problems = doc.cover.summary["problems"]
    for key in ("total", "open", "overdue"):
        assert sum(p.summary["problems"][key] for p in doc.pages) == problems[key]


def test_as_of_uses_the_history(mod_store, figures, data):
    now = make_snapshot(mod_store, figures, "community", HOUJIE, Options(**OPTS), data)
    past = make_snapshot(mod_store, figures, "community", HOUJIE, Options(as_of=dt.date(2023, 3, 15), **OPTS))
    assert past.as_of == dt.date(2023, 3, 15)
    finished = lambda s: sum(w["finished"] for w in s.summary["works"])
    assert finished(past) < finished(now)
    assert past.summary["problems"]["total"] < now.summary["problems"]["total"]
    assert "2023-03-15" in pdftotext(snapshot_pdf(past, Options(**OPTS)), 1, 1)


def test_overdue_is_configurable(mod_store, figures, data):
    strict = make_snapshot(mod_store, figures, "community", HOUJIE, Options(overdue_days=30, **OPTS), data)
    lenient = make_snapshot(mod_store, figures, "community", HOUJIE, Options(overdue_days=100000, **OPTS), data)
    assert strict.summary["problems"]["open"] >= 1
    assert strict.summary["problems"]["overdue"] == strict.summary["problems"]["open"]  # all from 2023
    assert lenient.summary["problems"]["overdue"] == 0 and not any(p.overdue for p in lenient.problems)


# -- the PDF ---------------------------------------------------------------------------------
def test_community_pdf_has_chinese_text_figures_and_a_map(mod_store, figures, data):
    snap = make_snapshot(mod_store, figures, "community", HOUJIE, Options(**OPTS), data)
    pdf = snapshot_pdf(snap, Options(**OPTS))
    text = pdftotext(pdf)
    for expected in ("后街社区", "富世街道", f"数据截至 {data.as_of}", "工作进度", "对照发布数据", "问题分类统计",
                     "未结案问题清单", f"数据版本 {data.data_version}", "老旧小区改造片区"):
        assert expected in text, expected
    works = {w["layer"]: w for w in snap.summary["works"]}
    assert f"{works['compounds']['quantities'][0]['value']:,.0f}" in text  # households benefited
    assert snap.problems[0].code in text
    fonts = subprocess.run(["pdffonts", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "NotoSansCJK" in fonts and " yes yes yes " in fonts  # embedded, subset, with a ToUnicode map
    page = first_page_png(pdf)
    colours = page.getcolors(1 << 20)
    assert len(colours) > 50 and max(n for n, _ in colours) < 0.9 * page.width * page.height  # not blank
    assert info_size(pdf) == (842, 595)


def info_size(pdf: bytes) -> tuple[int, int]:
    w, _, h = pdfinfo(pdf)["Page size"].split()[:3]
    return round(float(w)), round(float(h))


def _count(img: Image.Image, box, rgb, tol=40) -> int:
    crop = img.crop(box)
    return sum(n for n, c in crop.getcolors(1 << 20) if all(abs(a - b) <= tol for a, b in zip(c, rgb)))


def test_the_map_has_outline_works_legend_scale_bar_and_north_arrow(mod_store, figures, data):
    snap = make_snapshot(mod_store, figures, "community", HOUJIE, Options(**OPTS), data)
    img = Image.open(io.BytesIO(snap.map_png)).convert("RGB")
    w, h = img.size
    assert _count(img, (0, 0, w, h), (0xd3, 0x2f, 0x2f), 30) > 500  # the area's red outline
    assert _count(img, (0, 0, w, h), (0x15, 0x65, 0xc0), 30) > 100  # accepted works (blue)
    assert _count(img, (0, 0, w, h), (0x2e, 0x7d, 0x32), 30) > 50  # done works (green)
    legend = (0, int(h * 0.8), w, h) if w / h < 1.15 else (int(w * 0.78), 0, w, h)
    assert _count(img, legend, (0, 0, 0), 90) > 200  # legend text
    map_w = w if w / h < 1.15 else int(w * 0.77)
    assert _count(img, (int(map_w * 0.85), 0, map_w, int(h * 0.3)), (0, 0, 0), 60) > 150  # north arrow
    assert _count(img, (0, int(h * 0.6), int(map_w * 0.35), int(h * 0.95)), (0, 0, 0), 60) > 100  # scale bar


@pytest.mark.parametrize("span, length", [(120, 20), (1234, 200), (3000, 500), (9000, 1000), (60000, 10000)])
def test_scale_bar_lengths_are_round(span, length):
    assert nice_length(span) == length


def test_empty_area_says_there_is_nothing(mod_store, figures, data):
    snap = make_snapshot(mod_store, figures, "bbox", "10,10,10.01,10.01", Options(**OPTS), data)
    assert snap.empty and snap.problems == [] and snap.tables == []
    pdf = snapshot_pdf(snap, Options(**OPTS))
    assert "本范围内没有登记的工作、问题记录" in pdftotext(pdf) and pdfinfo(pdf)["Pages"].strip() == "1"
    en = make_snapshot(mod_store, figures, "bbox", "10,10,10.01,10.01", Options(lang="en", **OPTS), data)
    assert "Nothing is recorded in this area" in pdftotext(snapshot_pdf(en, Options(**OPTS)))


@pytest.mark.parametrize("paper, orientation, size", [("A3", "landscape", (1191, 842)), ("A4", "portrait", (595, 842))])
def test_paper_sizes(mod_store, figures, data, paper, orientation, size):
    opts = Options(paper=paper, orientation=orientation, lang="en", **OPTS)
    snap = make_snapshot(mod_store, figures, "lane", "BJ05", opts, data)
    pdf = snapshot_pdf(snap, opts)
    assert info_size(pdf) == size
    text = pdftotext(pdf, 1, 1)
    assert "Works by status" in text and snap.title in text and "Page 1" in text


def test_atlas_pdf_has_a_cover_and_one_page_per_community(atlas, data):
    doc, pdf, index = atlas
    assert pdfinfo(pdf)["Pages"].strip() == "22" and [i[1] for i in index] == list(range(1, 23))
    cover = pdftotext(pdf, 1, 1)
    assert "创文工作图集" in cover and "街道总数对照发布数据" in cover and "19,700" in cover and "2,766" in cover
    names = sorted(data.communities.values())
    for page, (title, number) in zip(doc.pages, index[1:]):
        text = pdftotext(pdf, number, number)
        assert title in text and re.search(rf"第\s*{number}\s*页", text) and "其余" not in text  # every page fits
    assert sorted(p.title for p in doc.pages) == names


def test_hundreds_of_open_problems_continue_on_further_pages(store, app):
    figures = app.extensions["gisapp"]["figures"]
    comm = store.read("communities", where={"code": HOUJIE}).geometry.iloc[0]
    points = [comm.representative_point()] * 300
    rows = gpd.GeoDataFrame({
        "code": [f"T{i:05d}" for i in range(300)], "category": ["dumping"] * 300,
        "description": [f"测试问题 {i} <b>不是标记</b>" if i else "王堃反映占道" for i in range(300)],
        "status": ["reported"] * 300,
        "source": ["field"] * 300, "community_code": [HOUJIE] * 300,
        "reported_at": [f"2024-01-{1 + i % 28:02d}T08:00:00Z" for i in range(300)], "reporter": ["test"] * 300,
    }, geometry=points, crs="EPSG:4326")
    with store.writer("test") as w:
        w.insert("reports", rows)
    opts = Options(**OPTS)
    snap = make_snapshot(store, figures, "community", HOUJIE, opts)
    assert len(snap.problems) >= 300
    pdf = snapshot_pdf(snap, opts)
    pages = int(pdfinfo(pdf)["Pages"])
    assert pages >= 10
    last = pdftotext(pdf, pages, pages)
    assert "未结案问题清单" in last and "（续）" in last and "编号" in last  # the header repeats
    text = pdftotext(pdf)
    assert all(f"T{i:05d}" in text for i in range(300)) and "<b>不是标记</b>" in text
    assert "王堃反映占道" in text  # outside GB2312: the full font is embedded


def test_thumbnails_come_from_the_photo_folder(tmp_path):
    (tmp_path / "p").mkdir()
    Image.new("RGB", (800, 600), (200, 30, 30)).save(tmp_path / "p" / "a.png")
    lookup = column_lookup(tmp_path / "p")
    jpeg = thumbnail(lookup({"photo_path": "a.png"}))
    assert jpeg[:2] == b"\xff\xd8" and max(Image.open(io.BytesIO(jpeg)).size) <= 240
    assert lookup({"photo_path": "../../etc/passwd"}) is None and lookup({}) is None
    assert thumbnail(b"not an image") is None


def test_pdf_with_a_photo_embeds_it(mod_store, figures, data, tmp_path):
    Image.new("RGB", (400, 300), (30, 90, 200)).save(tmp_path / "x.jpg")
    opts = Options(photo_lookup=lambda row: tmp_path / "x.jpg", **OPTS)
    snap = make_snapshot(mod_store, figures, "community", HOUJIE, opts, data)
    pdf = snapshot_pdf(snap, opts)
    images = subprocess.run(["pdfimages", "-list", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert len(images.strip().splitlines()) - 2 >= 2  # the map and the photo


def test_pdf_font_uses_the_full_font_for_rare_characters(tmp_path):
    full = find_font()
    assert pdf_font("富世街道", cache_dir=tmp_path, build="never") == full
    trimmed = pdf_font("富世街道 后街社区", build="sync")
    assert trimmed.path != full.path
    assert pdf_font("王堃 䶮", build="sync") == full  # outside GB2312: the full font
