"""The GeoPackage store: round trips, the R-tree, transactions, concurrent writers, bad files."""
import multiprocessing as mp
import os
import sqlite3
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gisapp.errors import Conflict, StoreError, ValidationFailed
from gisapp.registry import load_registry
from gisapp.storage import open_store
from gisapp.storage.gpkg_format import decode, encode

from conftest import LAYERS


def lanes(n=3, x0=104.97, prefix="L"):
    geoms = [shapely.LineString([(x0 + i * 0.001, 29.18), (x0 + i * 0.001 + 0.0005, 29.181)]) for i in range(n)]
    return gpd.GeoDataFrame({"code": [f"{prefix}{i}" for i in range(n)], "name": [f"测试巷{i}" for i in range(n)],
                             "community_code": ["C1"] * n, "length_m": [100.5 + i for i in range(n)]},
                            geometry=geoms, crs=4326)


def test_blob_round_trip_keeps_geometry_and_envelope():
    for geom in [shapely.Point(104.98, 29.18), shapely.box(1, 2, 3, 4), shapely.from_wkt("POLYGON EMPTY"),
                 shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 5)]])]:
        blob = encode(geom)
        assert blob[:2] == b"GP"
        assert shapely.equals_exact(decode(blob), geom) or (geom.is_empty and decode(blob).is_empty)


def test_features_round_trip(empty_store):
    data = lanes()
    with empty_store.writer("tester") as w:
        fids = w.insert("back_lanes", data)
    back = empty_store.read("back_lanes")
    assert list(back.index) == fids
    assert back["name"].tolist() == data["name"].tolist()
    assert back["length_m"].tolist() == data["length_m"].tolist()
    assert all(shapely.equals_exact(a, b) for a, b in zip(back.geometry, data.geometry))
    assert back.crs.to_epsg() == 4326
    assert empty_store.count("back_lanes", where={"community_code": "C1"}) == 3


def test_count_by_counts_per_value_in_the_store(empty_store):
    more = lanes(2, 104.99, "M").assign(community_code="C2")
    with empty_store.writer("tester") as w:
        w.insert("back_lanes", pd.concat([lanes(), more]))
    assert empty_store.count_by("back_lanes", "community_code") == {"C1": 3, "C2": 2}
    assert empty_store.count_by("back_lanes", "community_code", {"length_m": {">": 101}}) == {"C1": 2, "C2": 1}
    assert empty_store.count_by("back_lanes", "community_code", {"community_code": "none"}) == {}
    with pytest.raises(ValidationFailed):
        empty_store.count_by("back_lanes", "no_such_column")


def test_bounds_and_span_come_from_the_indexes_and_are_exact(empty_store):
    from gisapp.catalog import exact_bounds
    assert empty_store.bounds("back_lanes") is None and exact_bounds(empty_store, "back_lanes") is None
    assert empty_store.span("back_lanes", "length_m") == (None, None)
    # coordinates a float32 box cannot hold: the index's box is a little larger, the exact one is not
    edge = [shapely.LineString([(104.9700001234567, 29.1800000987), (104.9712345678901, 29.1812345678901)]),
            shapely.LineString([(105.0123456789012, 29.2098765432101), (105.0100000000001, 29.2000000000001)])]
    data = pd.concat([lanes(40), gpd.GeoDataFrame({"code": ["E0", "E1"], "name": "边", "community_code": ["C3", "C2"],
                                                   "length_m": [None, 7.25]}, geometry=edge, crs=4326)])
    data.loc[data["code"] == "L5", "geometry"] = shapely.from_wkt("LINESTRING EMPTY")
    with empty_store.writer("tester") as w:
        w.insert("back_lanes", data)
    want = tuple(empty_store.read("back_lanes").total_bounds)
    box = empty_store.bounds("back_lanes")
    assert all(abs(a - b) < 5e-5 for a, b in zip(box, want))
    assert box[0] <= want[0] and box[1] <= want[1] and box[2] >= want[2] and box[3] >= want[3]
    assert exact_bounds(empty_store, "back_lanes") == want
    assert empty_store.span("back_lanes", "length_m") == (7.25, 139.5)
    assert empty_store.span("back_lanes", "code", {"community_code": "C1"}) == ("L0", "L9")
    assert empty_store.span("back_lanes", "community_code") == ("C1", "C3")
    with pytest.raises(ValidationFailed):
        empty_store.span("back_lanes", "no_such_column")
    with pytest.raises(ValidationFailed):
        empty_store.bounds("users")


@pytest.mark.gpkg_only
def test_bbox_query_uses_rtree_and_is_exact(empty_store):
    with empty_store.writer("tester") as w:
        w.insert("back_lanes", lanes(50))
    bbox = (104.9795, 29.17, 104.9905, 29.19)
    got = empty_store.read("back_lanes", bbox=bbox)
    expected = [c for c, g in zip(lanes(50)["code"], lanes(50).geometry) if g.intersects(shapely.box(*bbox))]
    assert sorted(got["code"]) == sorted(expected) and 0 < len(expected) < 50
    conn = empty_store.connect()
    sql, params = empty_store._select(empty_store.spec("back_lanes"), None, bbox, "t.fid")
    plan = " ".join(str(r) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    assert "SCAN r VIRTUAL TABLE INDEX" in plan and '"rtree_back_lanes_geom" r' in sql


def test_failed_transaction_leaves_no_trace(empty_store):
    with empty_store.writer("tester") as w:
        w.insert("back_lanes", lanes(2))
    version = empty_store.data_version()
    audit_rows = empty_store.count("audit")
    bad = lanes(2, prefix="M")
    bad.loc[1, "code"] = "L0"  # duplicates a stored code: the second row fails
    with pytest.raises(Conflict):
        with empty_store.writer("tester") as w:
            w.insert("back_lanes", lanes(3, prefix="N"))
            w.insert("back_lanes", bad)
    assert empty_store.count("back_lanes") == 2
    assert empty_store.count("audit") == audit_rows
    assert empty_store.data_version() == version
    assert len(empty_store.read("back_lanes", bbox=(104, 29, 106, 30))) == 2  # R-tree rolled back too


def test_geometry_validation(empty_store):
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    gdf = gpd.GeoDataFrame({"code": ["A"], "name": ["x"], "community_code": ["C"]}, geometry=[bowtie], crs=4326)
    with pytest.raises(ValidationFailed, match="invalid"):
        with empty_store.writer("t") as w:
            w.insert("markets", gdf)
    with pytest.raises(ValidationFailed, match="Point"):
        with empty_store.writer("t") as w:
            w.insert("markets", gdf.set_geometry([shapely.Point(1, 2)]))
    with pytest.raises(ValidationFailed, match="EPSG:4326"):
        with empty_store.writer("t") as w:
            w.insert("back_lanes", lanes(1).to_crs(4544))
    # a Polygon goes into a MultiPolygon layer as a one-part MultiPolygon
    with empty_store.writer("t") as w:
        w.insert("communities", gpd.GeoDataFrame({"code": ["C"], "name": ["社区"]},
                                                 geometry=[shapely.box(0, 0, 1, 1)], crs=4326))
    assert empty_store.read("communities").geometry.iloc[0].geom_type == "MultiPolygon"
    assert empty_store.count("markets") == 0


def test_update_and_delete_are_audited(empty_store):
    with empty_store.writer("alice", "10.1.2.3") as w:
        (fid, *_) = w.insert("back_lanes", lanes(2))
    with empty_store.writer("bob", "10.1.2.4") as w:
        w.update("back_lanes", fid, {"name": "新名字"}, geometry=shapely.LineString([(105, 29.2), (105.01, 29.2)]))
        w.delete("back_lanes", fid + 1)
    audit = empty_store.read("audit", order_by="at")
    assert audit["action"].tolist() == ["insert", "update", "delete"]
    upd = audit.iloc[1]
    assert upd["actor"] == "bob" and upd["remote_addr"] == "10.1.2.4"
    assert '"测试巷0"' in upd["before"] and '"新名字"' in upd["after"]
    assert empty_store.read("back_lanes", bbox=(104.999, 29.19, 105.02, 29.21))["name"].tolist() == ["新名字"]
    assert empty_store.count("back_lanes") == 1


def test_progress_constraints(empty_store):
    rec = {"layer": "back_lanes", "feature_code": "L0", "record_date": "2023-05-01", "status": "done",
           "percent": 100.0, "author": "x", "created_at": "2023-05-01T00:00:00Z"}
    for bad in ({"status": "finished"}, {"percent": 120.0}, {"area_m2": -5.0}):
        with pytest.raises(Conflict):
            with empty_store.writer("t") as w:
                w.insert("progress", pd.DataFrame([{**rec, **bad}]))
    assert empty_store.count("progress") == 0


def _writer_process(path, worker, n):
    store = open_store(path, load_registry(LAYERS))
    for i in range(n):
        with store.writer(f"worker{worker}") as w:
            w.insert("progress", pd.DataFrame([{
                "layer": "back_lanes", "feature_code": f"W{worker}", "record_date": "2023-06-01",
                "status": "in_progress", "percent": float(i % 100), "note": f"{worker}-{i}",
                "author": f"worker{worker}", "created_at": "2023-06-01T00:00:00Z"}]))


@pytest.mark.gpkg_only
def test_concurrent_writers_from_several_processes_lose_nothing(empty_store):
    path = str(empty_store.path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer_process, args=(path, k, 60)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    notes = empty_store.read("progress", columns=["note"])["note"]
    assert len(notes) == 240 and notes.is_unique
    assert empty_store.connect().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_missing_folder_read_only_file_and_garbage(tmp_path, registry):
    with pytest.raises(StoreError, match="database folder does not exist"):
        open_store(str(tmp_path / "nope" / "x.gpkg"), registry)
    ro = tmp_path / "ro.gpkg"
    open_store(str(ro), registry).initialize()
    os.chmod(ro, 0o444)
    with pytest.raises(StoreError, match="read-only"):
        open_store(str(ro), registry)
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a usable GeoPackage"):
        open_store(str(junk), registry).initialize()
    with pytest.raises(StoreError, match="unsupported database URL"):
        open_store("mysql://x/y", registry)


@pytest.mark.parametrize("case", ["missing_dir", "read_only"])
def test_cli_start_up_errors_are_clear(tmp_path, case):
    path = tmp_path / "nope" / "x.gpkg"
    if case == "read_only":
        path = tmp_path / "ro.gpkg"
        sqlite3.connect(path).close()
        os.chmod(path, 0o444)
    env = {"GISAPP_DATABASE": str(path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "gisapp", "init-db"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert ("does not exist" if case == "missing_dir" else "read-only") in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.gpkg_only
def test_gdal_writes_keep_our_rtree_current(empty_store):
    """QGIS/GDAL editing the file must keep the index right (their triggers call our ST_ functions' twins)."""
    with empty_store.writer("t") as w:
        w.insert("back_lanes", lanes(1))
    path = str(empty_store.path)
    empty_store.close()
    subprocess.run(["ogrinfo", path, "-sql",
                    "UPDATE back_lanes SET geom = AsGPB(GeomFromText('LINESTRING(106 30, 106.1 30.1)', 4326))"],
                   check=True, capture_output=True)
    got = empty_store.read("back_lanes", bbox=(105.99, 29.99, 106.2, 30.2))
    assert got["code"].tolist() == ["L0"]
    assert empty_store.read("back_lanes", bbox=(104.9, 29.1, 105.0, 29.2)).empty


def _indexes(store) -> set[str]:
    if hasattr(store, "path"):
        rows = sqlite3.connect(store.path).execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    else:
        import psycopg
        with psycopg.connect(store._pool.url) as conn:
            rows = conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()").fetchall()
    return {r[0] for r in rows}


def test_indexes_an_older_store_lacks_are_added(empty_store):
    assert "idx_reports_3" in _indexes(empty_store)  # (source, status): the dashboard's report counts
    if hasattr(empty_store, "path"):
        with sqlite3.connect(empty_store.path) as conn:
            conn.execute('DROP INDEX "idx_reports_3"')
    else:
        import psycopg
        with psycopg.connect(empty_store._pool.url, autocommit=True) as conn:
            conn.execute('DROP INDEX "idx_reports_3"')
    assert "idx_reports_3" not in _indexes(empty_store)
    empty_store.initialize()
    assert "idx_reports_3" in _indexes(empty_store) and empty_store.changes == []


def _run(store, *statements):
    if hasattr(store, "path"):
        with sqlite3.connect(store.path) as conn:
            for sql in statements:
                conn.execute(sql)
    else:
        import psycopg
        with psycopg.connect(store._pool.url, autocommit=True) as conn:
            return [(lambda cur: cur.fetchall() if cur.description else [])(conn.execute(sql)) for sql in statements][-1]


def test_an_index_of_an_older_definition_is_rebuilt(empty_store):
    # stores made before 2026-12 had idx_reports_2 on reported_at alone
    _run(empty_store, 'DROP INDEX "idx_reports_2"', 'CREATE INDEX "idx_reports_2" ON reports (reported_at)')
    empty_store.initialize()
    assert empty_store.changes == ["rebuilt index idx_reports_2"]
    if hasattr(empty_store, "path"):
        with sqlite3.connect(empty_store.path) as conn:
            assert [r[2] for r in conn.execute('PRAGMA index_info("idx_reports_2")')] == ["reported_at", "fid"]
    else:
        assert _run(empty_store, "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_reports_2'")[0][0] \
            .endswith("(reported_at, fid)")
    empty_store.initialize()
    assert empty_store.changes == []
