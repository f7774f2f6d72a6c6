"""Snapshot URLs and CLI commands: pages, PDF/PNG/JSON twins, atlases, errors, escaping."""
import json
import shutil
import subprocess

import geopandas as gpd
import pytest
import shapely

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed (scripts/system-deps.sh)")
HOUJIE = "510322100031"  # 后街社区


@pytest.fixture
def app(app):
    app.config["SNAPSHOT_FONT_BUILD"] = "sync"  # no background thread in tests
    return app


def pdftotext(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def test_print_page_shows_the_snapshot(client):
    resp = client.get(f"/snapshot/community/{HOUJIE}")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert "<h1>后街社区</h1>" in html and "富世街道" in html and 'src="data:image/png;base64,' in html
    assert "size: A4 landscape" in html and "工作进度" in html and "未结案问题清单" in html
    assert f"/snapshot/community/{HOUJIE}.pdf" in html and "window.print()" in html
    portrait = client.get(f"/snapshot/community/{HOUJIE}?paper=A3&orientation=portrait").get_data(as_text=True)
    assert "size: A3 portrait" in portrait and 'class="snapshot portrait paper-A3"' in portrait


def test_pdf_png_and_json_twins(client):
    pdf = client.get(f"/snapshot/community/{HOUJIE}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data[:5] == b"%PDF-"
    assert "后街社区" in pdftotext(pdf.data) and HOUJIE in pdf.headers["Content-Disposition"]
    png = client.get(f"/snapshot/community/{HOUJIE}.png")
    assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    body = client.get("/snapshot/community/后街社区.json?as_of=2023-06-30").get_json()
    assert body["area"] == {"kind": "community", "key": HOUJIE, "name": "后街社区", "title": "后街社区"}
    assert body["as_of"] == "2023-06-30" and body["data_version"] >= 1
    assert {"works", "targets", "problems", "open_problems"} <= set(body)
    assert next(t for t in body["targets"] if t["key"] == "communities")["value"] == 1


def test_planner_view_rectangle(client):
    resp = client.get("/snapshot/bbox/104.96,29.17,104.99,29.19.pdf?lang=en")
    assert resp.status_code == 200
    text = pdftotext(resp.data)
    assert "Selected rectangle 104.96000,29.17000" in text and "Works by status" in text


def test_empty_rectangle_is_a_sensible_page(client):
    html = client.get("/snapshot/bbox/10,10,10.01,10.01").get_data(as_text=True)
    assert "本范围内没有登记的工作、问题记录" in html


@pytest.mark.parametrize("url, status, zh, en", [
    ("/snapshot/community/nope", 404, "没有编码或名称为“nope”的社区", "no community with code or name 'nope'"),
    ("/snapshot/lane/BJ99.pdf", 404, "背街小巷", "no back lane with code or name 'BJ99'"),
    ("/snapshot/planet/x", 404, "未知的快照范围类型", "unknown snapshot area kind"),
    ("/snapshot/bbox/1,2,3", 400, "范围应为", "a rectangle is minlon,minlat,maxlon,maxlat"),
    (f"/snapshot/community/{HOUJIE}?paper=B5", 400, "纸张应为", "paper must be A4 or A3"),
    (f"/snapshot/community/{HOUJIE}?as_of=2023-02-30", 400, "不是有效日期", "is not a date"),
    ("/snapshot/atlas/grid_cells.pdf", 404, "没有图层", "no atlas for layer 'grid_cells'"),
])
def test_errors_are_clear_in_both_languages(client, url, status, zh, en):
    resp = client.get(url + ("&" if "?" in url else "?") + "lang=zh")
    assert resp.status_code == status and zh in resp.get_data(as_text=True)
    resp = client.get(url + ("&" if "?" in url else "?") + "lang=en")
    assert resp.status_code == status and en in resp.get_data(as_text=True).replace("&#39;", "'")


def test_user_text_is_escaped(client, store):
    point = store.read("communities", where={"code": HOUJIE}).geometry.iloc[0].representative_point()
    row = gpd.GeoDataFrame({"code": ["XSS1"], "category": ["other"], "status": ["reported"], "source": ["field"],
                            "description": ['<img src=x onerror="alert(1)">&'], "community_code": [HOUJIE],
                            "reported_at": ["2024-05-01T08:00:00Z"], "reporter": ["test"]},
                           geometry=[point], crs="EPSG:4326")
    with store.writer("test") as w:
        w.insert("reports", row)
    html = client.get(f"/snapshot/community/{HOUJIE}").get_data(as_text=True)
    assert "XSS1" in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;" in html


def test_new_data_makes_a_new_document(client, store):
    before = client.get(f"/snapshot/community/{HOUJIE}.json").get_json()["problems"]["total"]
    point = shapely.Point(store.read("communities", where={"code": HOUJIE}).geometry.iloc[0].representative_point())
    row = gpd.GeoDataFrame({"code": ["NEW1"], "category": ["dumping"], "status": ["reported"], "source": ["field"],
                            "community_code": [HOUJIE], "reported_at": ["2024-05-01T08:00:00Z"]},
                           geometry=[point], crs="EPSG:4326")
    with store.writer("test") as w:
        w.insert("reports", row)
    assert client.get(f"/snapshot/community/{HOUJIE}.json").get_json()["problems"]["total"] == before + 1


def test_layer_atlas(client):
    resp = client.get("/snapshot/atlas/markets.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = pdftotext(resp.data)
    assert text.count("\f") == 3 and "图集：农贸市场" in text and "吉安庄农贸市场" in text and "市中花园农贸市场" in text


def test_index_lists_the_areas(client):
    html = client.get("/snapshot/").get_data(as_text=True)
    assert "后街社区" in html and f"/snapshot/community/{HOUJIE}.pdf" in html and "/snapshot/atlas.pdf" in html
    assert "/snapshot/atlas/back_lanes.pdf" in html and "/snapshot/lane/BJ01" in html
    body = json.loads(client.get("/snapshot/areas.json").data)
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert len(kinds["community"]["areas"]) == 21 and len(kinds["lane"]["areas"]) == 21


def test_cli_snapshot_and_atlas(app, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "houjie.pdf"
    result = runner.invoke(args=["snapshot", "community", HOUJIE, "-o", str(out), "--lang", "en", "--paper", "A3"])
    assert result.exit_code == 0, result.output
    assert "houjie.pdf" in result.output and "Works by status" in pdftotext(out.read_bytes())
    result = runner.invoke(args=["snapshot", "community", "nope", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0 and "no community with code or name 'nope'" in result.output
    assert not (tmp_path / "x.pdf").exists()
    result = runner.invoke(args=["snapshot", "bbox", "1,2", "-o", str(tmp_path / "y.pdf")])
    assert result.exit_code != 0 and "minlon,minlat,maxlon,maxlat" in result.output
    atlas = tmp_path / "markets.pdf"
    result = runner.invoke(args=["atlas", "--layer", "markets", "-o", str(atlas)])
    assert result.exit_code == 0, result.output
    assert pdftotext(atlas.read_bytes()).count("\f") == 3


def test_open_problems_show_their_uploaded_photo(app, client, tmp_path):
    from test_reports_support import bearer, photo, point_on_lane, upload
    app.config["REPORT_UPLOADS"] = str(tmp_path / "uploads")
    store = app.extensions["gisapp"]["store"]
    lane, lat, lon = point_on_lane(store, 3, 0.4)
    url = f"/snapshot/community/{lane['community_code']}.pdf"

    def images(pdf: bytes) -> int:
        out = subprocess.run(["pdfimages", "-list", "-"], input=pdf, capture_output=True)
        if out.returncode:  # older poppler cannot read stdin
            path = tmp_path / "s.pdf"
            path.write_bytes(pdf)
            out = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, check=True)
        return len(out.stdout.decode().splitlines()) - 2

    before = images(client.get(url).data)
    resp = upload(app.test_client(), bearer(app, "wangge"), [(photo("nikon_d70_no_gps.jpg"), "d70.jpg")],
                  lat=str(lat), long=str(lon), position_source="map", description="照片问题")
    assert resp.status_code == 201, resp.get_json()
    pdf = client.get(url).data
    assert "照片问题" in pdftotext(pdf) and images(pdf) == before + 1
    bare = upload(app.test_client(), bearer(app, "wangge"), [(photo("nikon_d70_no_gps.jpg"), "d70.jpg")],
                  lat=str(lat), long=str(lon), position_source="map", description="")
    assert bare.status_code == 201, bare.get_json()
    text = pdftotext(client.get(url).data)
    assert bare.get_json()["service_request"]["service_request_id"] in text and "nan" not in text
