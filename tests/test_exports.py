"""Exports round-trip: GeoPackage, GeoJSON, CSV and zipped Shapefile read back with GDAL and pandas."""
import io
import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import shapely

from gisapp.catalog import all_collections, get_collection
from gisapp.exports import Filter, export, parse_filter, short_names
from gisapp.progress import latest
from gisapp.query import Query, run

LANES_COMMUNITY = "510322100026"


def expected(store, layer, include_private=True, **filters):
    """What an export must hold: the query result (the same rows the API serves)."""
    coll = get_collection(store.registry, layer)
    return coll, run(store, coll, Query(**filters), include_private).frame


def plain(values):
    """Comparable Python values: None for missing, floats rounded."""
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            out.append(None)
        elif isinstance(v, float):
            out.append(round(v, 6))
        else:
            out.append(v)
    return out


def same_attributes(got: pd.DataFrame, want: pd.DataFrame, coll, include_private=True, rename=None):
    rename = rename or {}
    assert list(got["id"]) == list(want.index)
    for name, kind in coll.property_types(include_private).items():
        a = got[rename.get(name, name)].astype(object).tolist()
        b = want[name].astype(object).tolist()
        if kind in ("real", "integer"):
            a, b = ([None if v is None or v != v or v is pd.NA else round(float(v), 6) for v in x] for x in (a, b))
        assert plain(a) == plain(b), name


@pytest.mark.parametrize("layer", ["back_lanes", "waste_bins", "reports", "communities"])
def test_geopackage_round_trip(store, tmp_path, layer):
    path = tmp_path / f"{layer}.gpkg"
    n = export(store, layer, "gpkg", path)
    coll, want = expected(store, layer)
    assert [name for name, _ in pyogrio.list_layers(path)] == [layer]  # opens without naming the layer
    got = pyogrio.read_dataframe(path)
    assert n == len(got) == len(want) > 0
    same_attributes(got, want, coll)
    assert shapely.equals_exact(got.geometry.values, want.geometry.values, tolerance=1e-9).all()
    info = subprocess.run(["ogrinfo", "-ro", "-so", str(path), layer], capture_output=True, text=True)
    assert info.returncode == 0 and f"Feature Count: {n}" in info.stdout
    assert "partially supported" not in info.stderr  # GeoPackage 1.2: GDAL 3.6 and older QGIS read it quietly


def test_all_in_one_geopackage(store, tmp_path, registry):
    path = tmp_path / "all.gpkg"
    export(store, "all", "gpkg", path)
    layers = dict(pyogrio.list_layers(path))
    for coll in all_collections(registry):
        assert coll.id in layers
        assert pyogrio.read_info(path, layer=coll.id)["features"] == store.count(coll.id), coll.id
    for table in ("progress", "activity_log", "support_units", "layer_styles"):
        assert table in layers and layers[table] is None  # attribute tables
    assert pyogrio.read_info(path, layer="progress")["features"] == store.count("progress")
    styles = pyogrio.read_dataframe(path, layer="layer_styles").set_index("f_table_name")
    assert set(styles.index) == {c.id for c in all_collections(registry)}
    for layer, kind in [("back_lanes", "categorizedSymbol"), ("communities", "singleSymbol"),
                        ("reports", "singleSymbol")]:
        row = styles.loc[layer]
        assert bool(row["useAsDefault"]) and row["f_geometry_column"] == "geom"
        qml = ET.fromstring(row["styleQML"].split("\n", 1)[1])  # well-formed QML after the DOCTYPE
        assert qml.find("renderer-v2").get("type") == kind
    names = pyogrio.read_dataframe(path, layer="communities")["name"]
    assert names.str.endswith("社区").all()
    ogr = subprocess.run(["ogrinfo", "-ro", "-q", str(path)], capture_output=True, text=True)
    assert ogr.returncode == 0 and "progress" in ogr.stdout


def test_filtered_all_export_and_public_view(store, tmp_path):
    path = tmp_path / "all.gpkg"
    flt = parse_filter(LANES_COMMUNITY, "done,accepted", "2023-09-30")
    export(store, "all", "gpkg", path, flt, include_private=False)
    layers = dict(pyogrio.list_layers(path))
    assert "parking_spaces" not in layers and "back_lanes" in layers  # public layers only
    lanes = pyogrio.read_dataframe(path, layer="back_lanes")
    assert "manager" not in lanes and "manager_phone" not in lanes
    assert set(lanes["community_code"]) == {LANES_COMMUNITY} and set(lanes["status"]) <= {"done", "accepted"}
    assert (lanes["status_date"] <= "2023-09-30").all()
    records = pyogrio.read_dataframe(path, layer="progress")
    assert "author" not in records and (records["record_date"] <= "2023-09-30").all()
    assert set(records[records["layer"] == "back_lanes"]["feature_code"]) == set(lanes["code"])
    reports = pyogrio.read_dataframe(path, layer="reports")
    assert "reporter" not in reports and (reports["reported_at"] < "2023-10-01").all()
    assert set(reports["community_code"]) == {LANES_COMMUNITY}
    units = pyogrio.read_dataframe(path, layer="support_units")
    assert "contact" not in units


def test_status_and_as_of_filters(store, tmp_path):
    day = "2023-08-31"
    state = latest(store.progress("waste_bins"), day)
    done = set(state[state["status"] == "done"].index.get_level_values("feature_code"))
    path = tmp_path / "bins.geojson"
    n = export(store, "waste_bins", "geojson", path, parse_filter(None, "done", day))
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert n == len(doc["features"]) == len(done) > 0
    assert {f["properties"]["code"] for f in doc["features"]} == done
    everything = export(store, "waste_bins", "geojson", path, parse_filter(None, None, "2023-01-01"))
    assert everything == store.count("waste_bins")  # as_of alone keeps every feature, status empty then
    assert all(f["properties"]["status"] is None for f in json.loads(path.read_text())["features"])


def test_geojson_is_rfc7946(store, tmp_path):
    path = tmp_path / "compounds.geojson"
    export(store, "compounds", "geojson", path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    for f in doc["features"]:
        ring = f["geometry"]["coordinates"][0]
        assert shapely.LinearRing(ring).is_ccw
        assert all(len(repr(v).split(".")[-1]) <= 7 for xy in ring for v in xy)
    coll, want = expected(store, "compounds")
    got = pyogrio.read_dataframe(path)
    assert len(got) == len(want) and got["name"].tolist() == want["name"].tolist()


@pytest.mark.parametrize("layer", ["back_lanes", "parking_spaces", "reports"])
def test_csv_opens_in_excel_with_chinese_intact(store, tmp_path, layer):
    path = tmp_path / f"{layer}.csv"
    n = export(store, layer, "csv", path, parse_filter(LANES_COMMUNITY, None, None))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    got = pd.read_csv(path, encoding="utf-8-sig", dtype={"code": str, "community_code": str})
    coll, want = expected(store, layer, where={"community_code": LANES_COMMUNITY})
    assert n == len(got) == len(want) > 0
    same_attributes(got, want, coll)
    points = shapely.centroid(want.geometry.values) if coll.geometry != "Point" else want.geometry.values
    assert got["lon"].to_numpy() == pytest.approx(shapely.get_x(points), abs=1e-7)
    assert got["lat"].to_numpy() == pytest.approx(shapely.get_y(points), abs=1e-7)
    assert ("wkt" in got) == (coll.geometry != "Point")
    if "wkt" in got:
        back = shapely.from_wkt(got["wkt"].tolist())
        assert shapely.equals_exact(back, want.geometry.values, tolerance=1e-7).all()


def test_zipped_shapefile_with_cpg_and_field_names(store, tmp_path):
    path = tmp_path / "lanes.shp.zip"
    n = export(store, "back_lanes", "shp.zip", path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert {"back_lanes.shp", "back_lanes.shx", "back_lanes.dbf", "back_lanes.prj", "back_lanes.cpg",
                "back_lanes_fields.csv"} <= names
        assert zf.read("back_lanes.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
        mapping = pd.read_csv(io.BytesIO(zf.read("back_lanes_fields.csv")), encoding="utf-8-sig")
    coll, want = expected(store, "back_lanes")
    rename = dict(zip(mapping["field"], mapping["shapefile_field"]))
    assert rename == short_names(["id", *coll.property_types(True)])
    assert rename["community_code"] == "community_" and rename["manager_phone"] == "manager_ph"
    assert mapping.set_index("field").loc["manager", "title_zh"] == "路管家"
    got = pyogrio.read_dataframe(f"/vsizip/{path}/back_lanes.shp")
    assert n == len(got) == len(want) and all(len(c) <= 10 for c in got.columns)
    same_attributes(got.rename(columns={"id": "id"}), want, coll, rename=rename)
    assert "三道拐" in set(got["name"])
    ogr = subprocess.run(["ogrinfo", "-ro", "-so", f"/vsizip/{path}/back_lanes.shp", "back_lanes"],
                         capture_output=True, text=True)
    assert ogr.returncode == 0 and f"Feature Count: {n}" in ogr.stdout


def test_short_names_are_predictable():
    assert short_names(["community_code", "community_name", "community_note", "id"]) == {
        "community_code": "community_", "community_name": "communit01", "community_note": "communit02", "id": "id"}


def test_all_as_zipped_shapefiles(store, tmp_path, registry):
    path = tmp_path / "all.zip"
    total = export(store, "all", "shp.zip", path, Filter())
    with zipfile.ZipFile(path) as zf:
        shps = {n[:-4] for n in zf.namelist() if n.endswith(".shp")}
    assert shps == {c.id for c in all_collections(registry)}
    assert total == sum(store.count(c.id) for c in all_collections(registry))


@pytest.mark.parametrize("layer, flt", [("reports", Filter()), ("back_lanes", parse_filter(None, "done,accepted", None)),
                                         ("waste_bins", parse_filter(LANES_COMMUNITY, None, "2023-08-31"))])
def test_exports_read_in_chunks_give_the_same_files(store, tmp_path, monkeypatch, layer, flt):
    """A large export is read and written a chunk at a time; the files are those of one read."""
    from gisapp import exports
    coll = get_collection(store.registry, layer)
    whole = list(exports.frames(store, coll, flt, True))
    assert len(whole) == 1 and len(whole[0]) > 7
    small = list(exports.frames(store, coll, flt, True, chunk=7))
    assert len(small) == -(-len(whole[0]) // 7) and all(len(c) == 7 for c in small[:-1])
    def values(df):  # a chunk of missing values is object, not str: compare values
        return df.astype(object).where(df.notna(), None)
    pd.testing.assert_frame_equal(values(pd.concat(small)), values(whole[0]))
    sizes = (exports.CHUNK, 7)
    assert sizes[0] > len(whole[0])
    for fmt in ("gpkg", "geojson", "csv", "shp.zip"):
        paths = {}
        for chunk in sizes:
            monkeypatch.setattr(exports, "CHUNK", chunk)
            paths[chunk] = tmp_path / f"{chunk}{exports.FORMATS[fmt]}"
            assert export(store, layer, fmt, paths[chunk], flt) == len(whole[0])
        one, many = paths[sizes[0]], paths[7]
        if fmt in ("geojson", "csv"):
            assert one.read_bytes() == many.read_bytes(), fmt
            continue
        read = (lambda p: pyogrio.read_dataframe(f"/vsizip/{p}/{layer}.shp")) if fmt == "shp.zip" else pyogrio.read_dataframe
        a, b = read(one), read(many)
        assert len(a) == len(whole[0]) and list(a.dtypes) == list(b.dtypes), fmt
        assert a.drop(columns="geometry").equals(b.drop(columns="geometry")), fmt
        assert shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=0).all(), fmt


# --- downloads and the command line ----------------------------------------------------------
def test_download_urls(client, store):
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob("gisapp-export-*"))
    resp = client.get(f"/api/export/back_lanes.csv?community={LANES_COMMUNITY}&status=done,accepted")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="back_lanes-510322100026-')
    got = pd.read_csv(io.BytesIO(resp.data), encoding="utf-8-sig", dtype={"community_code": str})
    assert len(got) > 0 and set(got["community_code"]) == {LANES_COMMUNITY}
    for name, media in [("all.gpkg", "application/geopackage+sqlite3"), ("reports.geojson", "application/geo+json"),
                        ("markets.shp.zip", "application/zip")]:
        resp = client.get(f"/api/export/{name}?as_of=2023-06-30")
        assert resp.status_code == 200 and resp.mimetype == media, name
        assert int(resp.headers["Content-Length"]) == len(resp.data) > 0
    head = client.head("/api/export/reports.csv")  # never read: removed when the server closes it
    assert head.status_code == 200 and int(head.headers["Content-Length"]) > 0
    head.close()
    gone = client.get("/api/export/reports.gpkg", buffered=False)  # a client that goes away midway
    next(iter(gone.response))
    gone.close()
    assert set(temp.glob("gisapp-export-*")) == before  # sent from disk, then removed


@pytest.mark.parametrize("url, status", [
    ("/api/export/back_lanes.xlsx", 400),
    ("/api/export/back_lanes", 400),
    ("/api/export/nope.csv", 404),
    ("/api/export/all.csv", 400),
    ("/api/export/back_lanes.csv?as_of=2023-02-30", 400),
    ("/api/export/back_lanes.csv?status=finished", 400),
    ("/api/export/back_lanes.csv?status=closed", 400),
    ("/api/export/county_outline.csv?community=510322100026", 400),
    ("/api/export/county_outline.csv?status=done", 400),
    ("/api/export/back_lanes.csv?colour=red", 400),
    ("/api/export/all.gpkg?status=closed", 400),
])
def test_download_errors_in_the_one_shape(client, url, status):
    resp = client.get(url)
    assert resp.status_code == status and resp.is_json
    err = resp.get_json()["error"]
    assert set(err) == {"status", "code", "message"} and err["status"] == status
    assert client.get(url + ("&" if "?" in url else "?") + "lang=en").get_json()["error"]["message"].isascii()


def cli(db, *args):
    env = {"GISAPP_DATABASE": str(db), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "gisapp", *args], env=env, capture_output=True, text=True)


def test_cli_exports_and_openapi(demo_copy, tmp_path):
    out = tmp_path / "bins.csv"
    proc = cli(demo_copy, "export", str(out), "--layer", "waste_bins", "--status", "done,accepted",
               "--as-of", "2023-12-31", "--public")
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(out, encoding="utf-8-sig")
    assert f"exported {len(got)} features" in proc.stdout and set(got["status"]) <= {"done", "accepted"}
    proc = cli(demo_copy, "export", str(tmp_path / "all.gpkg"), "--layer", "all")
    assert proc.returncode == 0 and "reports" in dict(pyogrio.list_layers(tmp_path / "all.gpkg"))
    bad = cli(demo_copy, "export", str(tmp_path / "x.csv"), "--layer", "back_lanes", "--as-of", "someday")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr
    doc = cli(demo_copy, "openapi")
    assert doc.returncode == 0 and json.loads(doc.stdout)["openapi"].startswith("3.0")
