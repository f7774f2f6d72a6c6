"""The demo store as the app creates it on first start: GDAL reads it, figures come from records."""
import json
import re
import subprocess
import sys

import pytest

from gisapp.figures import compute

LAYER_COUNTS = {"communities": 21, "renovation_areas": 7, "back_lanes": 21, "markets": 2,
                "demolitions": 126, "waste_bins": 370, "practice_points": 23, "subdistrict": 1,
                "county_outline": 1, "support_units": 68}


def ogrinfo_counts(path) -> dict[str, int]:
    out = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(path)], check=True,
                         capture_output=True, text=True).stdout
    names = re.findall(r"^Layer name: (\S+)", out, re.M)
    counts = [int(c) for c in re.findall(r"^Feature Count: (\d+)", out, re.M)]
    return dict(zip(names, counts))


@pytest.mark.gpkg_only
def test_ogrinfo_lists_every_table_with_its_count(demo_db, registry):
    from gisapp.storage import open_store
    store = open_store(str(demo_db), registry)
    counts = ogrinfo_counts(demo_db)
    assert set(counts) == set(store.specs)  # every layer and every core table, nothing else
    for table in store.specs:
        assert counts[table] == store.count(table), table
    for table, n in LAYER_COUNTS.items():
        assert counts[table] == n, table
    assert counts["parking_spaces"] >= 2700 and counts["progress"] > 1000


@pytest.mark.gpkg_only
def test_ogrinfo_sees_geometry_types_and_wgs84(demo_db):
    out = subprocess.run(["ogrinfo", "-ro", "-so", str(demo_db), "back_lanes"], check=True,
                         capture_output=True, text=True).stdout
    assert "Geometry: Line String" in out and 'ID["EPSG",4326]' in out
    listing = subprocess.run(["ogrinfo", "-ro", "-q", str(demo_db)], check=True, capture_output=True, text=True).stdout
    assert "progress (None)" in listing and "communities (Multi Polygon)" in listing


@pytest.mark.gpkg_only
def test_gdal_integrity_check_passes(demo_db):
    out = subprocess.run(["ogrinfo", "-ro", str(demo_db), "-sql", "PRAGMA integrity_check"],
                         check=True, capture_output=True, text=True).stdout
    assert "= ok" in out
    fk = subprocess.run(["ogrinfo", "-ro", str(demo_db), "-sql", "PRAGMA foreign_key_check"],
                        check=True, capture_output=True, text=True).stdout
    assert "OGRFeature" not in fk


def test_every_published_figure_is_reproduced(app):
    store = app.extensions["gisapp"]["store"]
    rows = compute(store, app.extensions["gisapp"]["figures"])
    assert len(rows) == 25
    wrong = [(r["key"], r["value"], r["published"]) for r in rows if not r["matches"]]
    assert wrong == []
    values = {r["key"]: r["value"] for r in rows}
    assert values["renovation_households"] == 2766 and values["lanes_surface_m2"] == 19700
    assert values["lanes_funds"] > 5_000_000 and values["parking_spaces"] >= 2700


def test_figures_come_from_records_not_constants(app):
    """Changing stored records changes the figures."""
    import pandas as pd
    store = app.extensions["gisapp"]["store"]
    figures = app.extensions["gisapp"]["figures"]
    lane = store.read("back_lanes", columns=["code"]).iloc[0]["code"]
    last = store.progress("back_lanes")
    last = last[last["feature_code"] == lane].iloc[-1]
    with store.writer("tester") as w:
        w.insert("progress", pd.DataFrame([{**last.to_dict(), "record_date": "2023-12-31", "status": "in_progress",
                                            "area_m2": last["area_m2"] + 10, "created_at": "2023-12-31T00:00:00Z"}]))
    values = {r["key"]: r["value"] for r in compute(store, figures)}
    assert values["lanes_surface_m2"] == 19710 and values["lanes_renovated"] == 20


def test_as_of_figures_show_the_past(app):
    import datetime as dt
    store = app.extensions["gisapp"]["store"]
    figures = app.extensions["gisapp"]["figures"]
    early = {r["key"]: r["value"] for r in compute(store, figures, dt.date(2023, 3, 31))}
    mid = {r["key"]: r["value"] for r in compute(store, figures, dt.date(2023, 7, 31))}
    now = {r["key"]: r["value"] for r in compute(store, figures)}
    for key in ("lanes_surface_m2", "renovation_households", "lanes_renovated", "flyers_cleaned"):
        assert early[key] <= mid[key] <= now[key], key
    assert early["lanes_renovated"] < now["lanes_renovated"]
    assert early["communities"] == now["communities"] == 21


def test_figures_cli_prints_the_table(demo_copy):
    env = {"GISAPP_DATABASE": str(demo_copy), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "gisapp", "figures"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "修补、黑化路面" in proc.stdout and "19,700" in proc.stdout and "MISMATCH" not in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "gisapp", "figures", "--json", "--as-of", "2023-06-30"],
                          env=env, capture_output=True, text=True)
    rows = json.loads(proc.stdout)
    assert {r["key"] for r in rows} >= {"communities", "bin_pairs"}
    bad = subprocess.run([sys.executable, "-m", "gisapp", "figures", "--as-of", "yesterday"],
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr
