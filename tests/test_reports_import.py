"""Bulk import of GIS files: a dry run, then one transaction. Real files written with
GDAL, compared with ogr2ogr; broken and hostile files refused with a clear 4xx."""
import io
import json
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisapp.coords import gcj02_to_bd09, wgs84_to_gcj02
from gisapp.reports.assign import to_metric

from test_reports_support import bearer, csrf_token, files_under, rapp  # noqa: F401

OGR2OGR = shutil.which("ogr2ogr")


def problems(store, n=4):
    """Points along the demo lanes, with Chinese attributes."""
    lanes = store.read("back_lanes").geometry.values[:n]
    pts = [g.interpolate(0.3, normalized=True) for g in lanes]
    return gpd.GeoDataFrame({"编号": [f"GBK{i:03d}" for i in range(n)],
                             "类别": ["乱堆放", "牛皮癣", "飞线充电", "路灯不亮"][:n],
                             "描述": [f"第{i}号：巷口堆放杂物，影响通行" for i in range(n)],
                             "上报时间": ["2023-12-01 09:30:00"] * n}, geometry=pts, crs=4326)


def write_shapefile(gdf, folder: Path, name: str, crs=4544, cpg: str | None = None, prj=True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shp = folder / f"{name}.shp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # field names cut to 10 characters
        gdf.to_crs(crs).to_file(shp, encoding="GB18030", engine="pyogrio")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    if cpg:
        shp.with_suffix(".cpg").write_text(cpg)
    if not prj:
        shp.with_suffix(".prj").unlink()
    return shp


def zipped(shp: Path, archive: Path, folder="测绘成果/2023/") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(shp.parent.glob(shp.stem + ".*")):
            zf.write(f, folder + f.stem + f.suffix.upper())  # nested folders, upper-case extensions
    return archive


def admin_headers(app) -> dict:
    if "_admin_headers" not in app.extensions:  # one token per app: each new token is an audited write
        app.extensions["_admin_headers"] = bearer(app, "admin")
    return app.extensions["_admin_headers"]


def api_import(app, path: Path, run=True, **form):
    client, headers = app.test_client(), admin_headers(app)
    data = {"file": (io.BytesIO(path.read_bytes()), path.name), **form}
    dry = client.post("/api/reports/import", data=data, headers=headers, content_type="multipart/form-data")
    if dry.status_code != 200 or not run:
        return dry, None
    return dry, client.post(dry.get_json()["run_url"], headers=headers)


def metres_apart(a, b) -> np.ndarray:
    ax, ay = to_metric(shapely.get_x(a), shapely.get_y(a))
    bx, by = to_metric(shapely.get_x(b), shapely.get_y(b))
    return np.hypot(ax - bx, ay - by)


@pytest.mark.skipif(OGR2OGR is None, reason="GDAL's ogr2ogr not installed (scripts/system-deps.sh)")
def test_gbk_shapefile_in_gauss_kruger_lands_where_ogr2ogr_puts_it(rapp, tmp_path):
    store = rapp.extensions["gisapp"]["store"]
    src = problems(store)
    shp = write_shapefile(src, tmp_path / "src", "问题点位", crs=4544)
    assert not shp.with_suffix(".cpg").exists()
    reference = tmp_path / "ogr.geojson"
    subprocess.run([OGR2OGR, "-f", "GeoJSON", "-t_srs", "EPSG:4326", str(reference), str(shp)], check=True)
    features = json.loads(reference.read_bytes().decode("latin-1"))["features"]  # attribute text aside
    expected = gpd.GeoDataFrame(geometry=[shapely.geometry.shape(f["geometry"]) for f in features], crs=4326)
    dry, run = api_import(rapp, zipped(shp, tmp_path / "survey.zip"))
    report = dry.get_json()["report"]
    assert report["encoding"] == "gb18030" and report["encoding_source"] == "detected"
    assert report["crs"] == "EPSG:4544" and report["features_read"] == 4 and report["importable"] == 4
    assert report["member"] == "测绘成果/2023/问题点位.SHP" and report["codes"] == "file"
    assert report["fields_mapped"] == {"code": "编号", "category": "类别", "description": "描述", "reported_at": "上报时间"}
    assert report["categories_unmatched"] == {"路灯不亮": 1}
    assert run.status_code == 201 and run.get_json()["result"]["inserted"] == 4
    got = store.read("reports", where={"code": src["编号"].tolist()}, order_by="code")
    assert got["description"].tolist() == src["描述"].tolist()  # GBK text read correctly
    assert got["category"].tolist() == ["dumping", "flyers", "wire_charging", "other"]
    assert (got["reported_at"] == "2023-12-01T01:30:00Z").all()  # Beijing time stored as UTC
    assert (metres_apart(got.geometry.values, expected.geometry.values) < 0.1).all()
    assert got["community_code"].notna().all() and (got["position_source"] == "import").all()
    lanes = store.read("back_lanes", columns=["code"])
    assert got["lane_code"].tolist() == lanes["code"].tolist()[:4]
    events = store.read("report_events", where={"report_code": got["code"].tolist()})
    assert (events["action"] == "report").sum() == 4
    assert files_under(Path(rapp.config["REPORT_UPLOADS"]) / "imports") == []


def test_a_cpg_naming_a_code_page_and_a_layer_target(rapp, tmp_path):
    store = rapp.extensions["gisapp"]["store"]
    src = problems(store, 3).rename(columns={"编号": "code", "描述": "name"})
    src["community_code"] = "510322100031"
    shp = write_shapefile(src, tmp_path / "bins", "垃圾桶", crs=4490, cpg="936")
    dry, run = api_import(rapp, zipped(shp, tmp_path / "bins.zip", ""), target="waste_bins")
    report = dry.get_json()["report"]
    assert report["encoding"] == "gbk" and report["encoding_source"] == "cpg" and report["crs"] == "EPSG:4490"
    assert run.status_code == 201
    got = store.read("waste_bins", where={"code": ["GBK000", "GBK001", "GBK002"]}, order_by="code")
    assert got["name"].tolist() == src["name"].tolist()
    again, _ = api_import(rapp, zipped(shp, tmp_path / "again.zip", ""), run=False, target="waste_bins")
    assert again.get_json()["report"]["existing_codes"] == 3 and again.get_json()["report"]["importable"] == 0


def test_invalid_geometries_are_repaired_or_refused(rapp, tmp_path):
    store = rapp.extensions["gisapp"]["store"]
    c = store.read("communities").geometry.iloc[0].centroid
    d = 0.0005
    bowtie = shapely.Polygon([(c.x, c.y), (c.x + d, c.y + d), (c.x + d, c.y), (c.x, c.y + d), (c.x, c.y)])
    spike = shapely.Polygon([(c.x, c.y), (c.x + d, c.y), (c.x + d, c.y + d), (c.x + d / 2, c.y + d),
                             (c.x + d / 2, c.y + 1.5 * d), (c.x + d / 2, c.y + d), (c.x, c.y + d)])
    square = shapely.box(c.x, c.y, c.x + d, c.y + d)
    line = shapely.LineString([(c.x, c.y), (c.x + d, c.y)])
    features = [{"type": "Feature", "properties": {"code": f"CP{i}", "name": f"小区{i}", "community_code": "510322100031",
                                                   "area_code": "A1"},
                 "geometry": shapely.geometry.mapping(g) if g is not None else None}
                for i, g in enumerate([bowtie, spike, square, None, line])]
    path = tmp_path / "compounds.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    dry, run = api_import(rapp, path, target="compounds")
    report = dry.get_json()["report"]
    assert report["repaired"] == 2 and report["refused"] == 3 and report["importable"] == 2
    reasons = {r["row"]: r["en"] for r in report["refused_rows"]}
    assert "multi-part" in reasons[1] and reasons[4] == "no geometry" and "LineString" in reasons[5]
    assert run.status_code == 201
    got = rapp.extensions["gisapp"]["store"].read("compounds", where={"code": ["CP1", "CP2"]})
    assert got.geometry.is_valid.all() and len(got) == 2


def test_kml_kmz_gpx_and_csv(rapp, tmp_path):
    store = rapp.extensions["gisapp"]["store"]
    src = problems(store, 3)
    kml = tmp_path / "points.kml"
    src.rename(columns={"描述": "Name", "类别": "Description"})[["Name", "Description", "geometry"]].to_file(
        kml, driver="KML", engine="pyogrio")
    dry, _ = api_import(rapp, kml, run=False)
    assert dry.status_code == 200 and dry.get_json()["report"]["importable"] == 3
    kmz = tmp_path / "points.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.write(kml, "doc.kml")
    assert api_import(rapp, kmz, run=False)[0].get_json()["report"]["features_read"] == 3
    gpx = tmp_path / "track.gpx"
    wpts = "".join(f'<wpt lat="{p.y}" lon="{p.x}"><name>点{i}</name><desc>下水道堵塞</desc></wpt>'
                   for i, p in enumerate(src.geometry))
    gpx.write_text(f'<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">{wpts}</gpx>')
    report = api_import(rapp, gpx, run=False)[0].get_json()["report"]
    assert report["layer"] == "waypoints" and report["importable"] == 3
    lines = ["经度,纬度,类别,描述"] + [f"{p.x:.7f},{p.y:.7f},乱堆放,第{i}处" for i, p in enumerate(src.geometry)]
    p0 = src.geometry.iloc[0]
    deg, minutes = int(p0.x), (p0.x - int(p0.x)) * 60
    lines.append(f"{deg}°{int(minutes)}′{(minutes - int(minutes)) * 60:.4f}″E,{p0.y:.7f},牛皮癣,度分秒")
    csv = tmp_path / "points.csv"
    csv.write_bytes("\n".join(lines).encode("gb18030"))
    dry, run = api_import(rapp, csv)
    report = dry.get_json()["report"]
    assert report["encoding"] == "gb18030" and report["crs_source"] == "assumed" and report["importable"] == 4
    assert run.status_code == 201


@pytest.mark.parametrize("coords", ["gcj02", "bd09"])
def test_gcj02_and_bd09_come_back_to_wgs84(rapp, tmp_path, coords):
    store = rapp.extensions["gisapp"]["store"]
    src = problems(store, 3)
    lon, lat = wgs84_to_gcj02(shapely.get_x(src.geometry.values), shapely.get_y(src.geometry.values))
    if coords == "bd09":
        lon, lat = gcj02_to_bd09(lon, lat)
    csv = tmp_path / f"{coords}.csv"
    csv.write_text("lng,lat,category\n" + "\n".join(f"{x:.10f},{y:.10f},dumping" for x, y in zip(lon, lat)), encoding="utf-8")
    dry, run = api_import(rapp, csv, coords=coords)
    assert dry.status_code == 200, dry.get_json()
    assert run.status_code == 201, run.get_json()
    got = store.read("reports", where={"position_source": "import"}, order_by="fid").tail(3)
    assert (metres_apart(got.geometry.values, src.geometry.values) < 0.01).all()


def test_bad_files_get_a_clear_4xx_and_nothing_is_written(rapp, tmp_path):
    store = rapp.extensions["gisapp"]["store"]
    admin_headers(rapp)
    before = store.count("reports"), store.count("audit")
    bad = tmp_path / "broken.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", ')
    resp, _ = api_import(rapp, bad)
    assert resp.status_code == 422 and "无法读取文件 broken.geojson" in resp.get_json()["error"]["message"]
    garbage = tmp_path / "data.zip"
    garbage.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 20)
    resp, _ = api_import(rapp, garbage)
    assert resp.status_code == 400 and "不是有效的 zip 文件" in resp.get_json()["error"]["message"]
    good = zipped(write_shapefile(problems(store), tmp_path / "s", "p"), tmp_path / "good.zip")
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert api_import(rapp, cut)[0].status_code == 400
    no_prj = zipped(write_shapefile(problems(store), tmp_path / "n", "noprj", prj=False), tmp_path / "noprj.zip")
    resp, _ = api_import(rapp, no_prj)
    assert resp.status_code == 422 and "没有坐标系" in resp.get_json()["error"]["message"]
    ok, _ = api_import(rapp, no_prj, run=False, src_crs="EPSG:4544")
    assert ok.status_code == 200 and ok.get_json()["report"]["crs_source"] == "given"
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert api_import(rapp, text)[0].status_code == 422
    assert (store.count("reports"), store.count("audit")) == before
    imports = Path(rapp.config["REPORT_UPLOADS"]) / "imports"
    assert len([p for p in imports.iterdir()]) == 1  # only the dry run that succeeded waits for its import


def test_zip_bombs_and_path_traversal_are_refused(rapp, tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.geojson", b"\x00" * (30 << 20))
    assert bomb.stat().st_size < 100_000
    resp, _ = api_import(rapp, bomb)
    assert resp.status_code == 400 and "压缩炸弹" in resp.get_json()["error"]["message"]
    rapp.config["IMPORT_MAX_UNCOMPRESSED_MB"] = 0.1
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as zf:  # under 500 KB: Werkzeug's test client
        zf.writestr("a.geojson", b" " * 200_000)  # keeps larger bodies in a temporary file it never closes
    resp, _ = api_import(rapp, big)
    assert resp.status_code == 400 and "过大" in resp.get_json()["error"]["message"]
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../../etc/cron.d/x.geojson", '{"type": "FeatureCollection", "features": []}')
    resp, _ = api_import(rapp, evil)
    assert resp.status_code == 400 and "不安全的路径" in resp.get_json()["error"]["message"]
    assert not (tmp_path.parent / "etc").exists()


def test_web_import_for_admins_only(rapp, tmp_path, login_as):
    store = rapp.extensions["gisapp"]["store"]
    archive = zipped(write_shapefile(problems(store), tmp_path / "s", "web"), tmp_path / "web.zip")
    assert login_as("handler").get("/reports/import").status_code == 403
    admin = login_as("admin")
    token = csrf_token(admin)
    page = admin.post("/reports/import", data={"csrf_token": token, "target": "reports",
                                               "file": (io.BytesIO(archive.read_bytes()), "web.zip")},
                      content_type="multipart/form-data")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "试运行结果" in html and 'id="rp-importable"><strong>4' in html
    before = store.count("reports")
    action = html.split('action="/reports/import/')[1].split('"')[0]
    done = admin.post(f"/reports/import/{action}", data={"csrf_token": token})
    assert done.status_code == 200 and "已导入" in done.get_data(as_text=True)
    assert store.count("reports") == before + 4
    assert admin.post(f"/reports/import/{action}", data={"csrf_token": token}).status_code == 404  # done already


def test_cli_dry_run_then_import(rapp, tmp_path, demo_copy):
    store = rapp.extensions["gisapp"]["store"]
    store.checkpoint()
    archive = zipped(write_shapefile(problems(store), tmp_path / "s", "cli"), tmp_path / "cli.zip")
    env = {"GISAPP_DATABASE": str(demo_copy), "GISAPP_LOAD_DEMO": "false", "PATH": "/usr/bin:/bin",
           "GISAPP_REPORT_UPLOADS": str(tmp_path / "up")}
    dry = subprocess.run([sys.executable, "-m", "gisapp", "import-reports", str(archive), "--dry-run"],
                         env=env, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "to import: 4" in dry.stdout and "gb18030 (detected)" in dry.stdout and "EPSG:4544" in dry.stdout
    before = store.count("reports")
    run = subprocess.run([sys.executable, "-m", "gisapp", "import-reports", str(archive), "--actor", "cli:test"],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0 and "imported 4 features into reports" in run.stdout
    assert store.count("reports") == before + 4
    bad = subprocess.run([sys.executable, "-m", "gisapp", "import-reports", str(archive), "--target", "nope"],
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "no layer nope" in bad.stderr and "Traceback" not in bad.stderr
