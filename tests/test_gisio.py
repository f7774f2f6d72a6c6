"""Importing GIS files into layers and exporting them, through the functions and the CLI."""
import subprocess
import sys
import zipfile

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gisapp.coords import wgs84_to_gcj02
from gisapp.errors import ValidationFailed
from gisapp.gisio import dbf_encoding, import_file, read_gis_file


def bins(n=3):
    pts = [shapely.Point(104.98 + i * 0.001, 29.18 + i * 0.0005) for i in range(n)]
    return gpd.GeoDataFrame({"code": [f"B{i}" for i in range(n)], "name": [f"垃圾桶点位{i}号" for i in range(n)],
                             "community_code": ["510322100031"] * n, "colour": ["绿"] * n},
                            geometry=pts, crs=4326)


def test_gbk_shapefile_without_cpg_in_a_zip_with_folders(tmp_path, empty_store):
    shp = tmp_path / "src" / "垃圾桶.shp"
    shp.parent.mkdir()
    with pytest.warns((UserWarning, RuntimeWarning)):  # community_code is cut to community_
        bins().to_crs(4544).to_file(shp, encoding="GB18030", engine="pyogrio")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    assert dbf_encoding(shp.with_suffix(".dbf").read_bytes()[32:]) == "gb18030"
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in shp.parent.iterdir():
            zf.write(f, f"数据/2023/{f.stem}{f.suffix.upper()}")  # nested folder, upper-case extensions
    result = import_file(empty_store, "waste_bins", archive, "tester")
    assert result == {"layer": "waste_bins", "inserted": 3, "ignored_columns": ["colour"]}
    got = empty_store.read("waste_bins")
    assert got["name"].tolist() == ["垃圾桶点位0号", "垃圾桶点位1号", "垃圾桶点位2号"]
    assert got.geometry.iloc[1].distance(shapely.Point(104.981, 29.1805)) < 1e-7  # back from CGCS2000 GK zone
    audit = empty_store.read("audit")
    assert audit.iloc[-1]["summary"] == "import upload.zip" and audit.iloc[-1]["actor"] == "tester"


def test_gcj02_coordinates_are_converted(tmp_path):
    src = bins(1)
    lon, lat = wgs84_to_gcj02(104.98, 29.18)
    src = src.set_geometry([shapely.Point(lon, lat)], crs=4326)
    path = tmp_path / "amap.geojson"
    src.to_file(path, engine="pyogrio")
    back = read_gis_file(path, gcj02=True)
    assert back.geometry.iloc[0].distance(shapely.Point(104.98, 29.18)) < 1e-6


def test_bad_files_are_refused_cleanly(tmp_path, empty_store):
    no_crs = tmp_path / "nocrs.geojson"
    no_crs.write_text('{"type":"FeatureCollection","features":[]}')
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [ {"type": ')
    src = bins(2).drop(columns="name")
    missing = tmp_path / "missing.gpkg"
    src.to_file(missing, engine="pyogrio")
    for path, message in [(broken, "无法读取"), (tmp_path / "none.shp", "文件不存在"), (missing, "name")]:
        with pytest.raises(ValidationFailed) as err:
            import_file(empty_store, "waste_bins", path, "tester")
        assert message in err.value.message("zh")
    assert empty_store.count("waste_bins") == 0 and empty_store.count("audit") == 0
    with pytest.warns((UserWarning, RuntimeWarning)):
        pyogrio.write_dataframe(bins(1).set_crs(None, allow_override=True), tmp_path / "x.shp")
    with pytest.raises(ValidationFailed, match="CRS"):
        read_gis_file(tmp_path / "x.shp")


def test_cli_import_then_export_round_trip(tmp_path, demo_copy):
    src = tmp_path / "new_bins.gpkg"
    bins(4).to_file(src, engine="pyogrio")
    env = {"GISAPP_DATABASE": str(demo_copy), "PATH": "/usr/bin:/bin"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "gisapp", *args], env=env,  # noqa: E731
                                       capture_output=True, text=True)
    proc = run("import", str(src), "--layer", "waste_bins", "--actor", "surveyor")
    assert proc.returncode == 0, proc.stderr
    assert "imported 4 features" in proc.stdout and "ignored columns: colour" in proc.stdout
    out = tmp_path / "lanes.gpkg"
    proc = run("export", str(out), "--layer", "back_lanes", "--public")
    assert proc.returncode == 0, proc.stderr
    lanes = gpd.read_file(out, engine="pyogrio")
    assert len(lanes) == 21 and "manager" not in lanes and set(lanes["status"]) <= {"done", "accepted"}
    assert lanes["area_m2"].sum() == 19700
    proc = run("export", str(tmp_path / "bins.shp"), "--layer", "waste_bins")
    shp = gpd.read_file(tmp_path / "bins.shp", engine="pyogrio")
    assert len(shp) == 374 and "垃圾桶点位3号" in set(shp["name"])
    bad = run("import", str(src), "--layer", "nope")
    assert bad.returncode != 0 and "unknown layer" in bad.stderr and "Traceback" not in bad.stderr
    dup = run("import", str(src), "--layer", "waste_bins")  # same codes again: refused whole
    assert dup.returncode == 2 and "conflicting" in dup.stderr and "Traceback" not in dup.stderr
