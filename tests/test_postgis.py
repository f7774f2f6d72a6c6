"""The PostGIS store's own guarantees: typed geometry columns and GiST indexes used by bbox
queries, writers from several processes, fork safety, clear errors, schema upgrades, GDAL."""
import multiprocessing as mp
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

from gisapp.errors import StoreError
from gisapp.registry import load_registry
from gisapp.storage import open_store
from gisapp.storage.schema import SCHEMA_VERSION

from conftest import LAYERS, pg_server

pytestmark = pytest.mark.postgis_only


def url_of(store) -> str:
    """The real URL (store.url hides the password)."""
    return store._pool.url


def sql(store, query, params=()):
    with psycopg.connect(url_of(store), autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def test_geometry_columns_types_srid_and_gist_indexes(empty_store):
    cols = dict((t, (typ, srid)) for t, typ, srid in sql(
        empty_store, "SELECT f_table_name, type, srid FROM geometry_columns WHERE f_table_schema = current_schema()"))
    spatial = {name: spec for name, spec in empty_store.specs.items() if spec.spatial}
    assert set(cols) == set(spatial)
    for name, spec in spatial.items():
        assert cols[name] == (spec.geometry_type.upper(), 4326), name
    gist = {t for t, d in sql(empty_store, "SELECT tablename, indexdef FROM pg_indexes "
                                           "WHERE schemaname = current_schema() AND indexdef LIKE '%%USING gist%%'")}
    assert gist == set(spatial)
    checks = [c for (c,) in sql(empty_store, "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                                             "WHERE conrelid = 'progress'::regclass AND contype = 'c'")]
    assert any("percent" in c and "100" in c for c in checks)
    assert empty_store.meta("schema_version") == str(SCHEMA_VERSION)
    assert ":***@" in empty_store.url and "gisapp:gisapp@" not in empty_store.url


def test_bbox_queries_use_the_gist_index(empty_store):
    pts = shapely.points([(104.9 + i * 1e-4, 29.1 + (i % 50) * 1e-4) for i in range(2000)])
    rows = pd.DataFrame({"code": [f"P{i}" for i in range(2000)], "category": "other", "status": "reported",
                         "source": "field", "reported_at": "2023-01-01T00:00:00Z"})
    import geopandas as gpd
    with empty_store.writer("t") as w:
        w.insert("reports", gpd.GeoDataFrame(rows, geometry=pts, crs=4326))
    sql(empty_store, "ANALYZE reports")
    bbox = (104.94995, 29.0, 104.95995, 29.2)  # edges fall between points (&& compares float32 boxes)
    assert empty_store.count("reports", bbox=bbox) == len(empty_store.read("reports", bbox=bbox)) == 100
    with psycopg.connect(url_of(empty_store), autocommit=True) as conn:
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT count(*) FROM reports t WHERE t.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)", bbox))
    assert "reports_geom_gist" in plan, plan


def _writer_process(url, worker, n):
    store = open_store(url, load_registry(LAYERS))
    for i in range(n):
        with store.writer(f"worker{worker}") as w:
            w.insert("progress", pd.DataFrame([{
                "layer": "back_lanes", "feature_code": f"W{worker}", "record_date": "2023-06-01",
                "status": "in_progress", "percent": float(i % 100), "note": f"{worker}-{i}",
                "author": f"worker{worker}", "created_at": "2023-06-01T00:00:00Z"}]))
    store.close()


def test_concurrent_writers_from_several_processes_lose_nothing(empty_store):
    version = empty_store.data_version()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer_process, args=(url_of(empty_store), k, 40)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    notes = empty_store.read("progress", columns=["note"])["note"]
    assert len(notes) == 160 and notes.is_unique
    assert empty_store.data_version() == version + 160
    assert empty_store.count("audit", where={"action": "insert"}) == 160


def test_a_forked_child_never_uses_the_parents_connection(empty_store):
    pid_of = lambda: empty_store._query("SELECT pg_backend_pid()")[0][0]  # noqa: E731
    parent = pid_of()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its own session, then leave without tidying the parent's
        try:
            os.write(write, str(pid_of()).encode())
        finally:
            os._exit(0)
    os.close(write)
    got = int(os.read(read, 64).decode())
    os.close(read)
    os.waitpid(child, 0)
    assert got != parent
    assert pid_of() == parent  # the parent's pooled session survived the child


def test_unreachable_server_and_missing_postgis_are_clear(registry):
    store = open_store("postgresql://gisapp:secret@127.0.0.1:1/nothing", registry)
    expected = r"cannot connect to PostgreSQL at postgresql://gisapp:\*\*\*@127.0.0.1:1/nothing"
    with pytest.raises(StoreError, match=expected) as exc:
        store.initialize()
    assert "secret" not in str(exc.value)
    server = pg_server()
    name = server.create("template0", "nopostgis")
    try:
        bare = open_store(server.url_of(name), registry)
        with pytest.raises(StoreError, match="no PostGIS"):
            bare.initialize()
        bare.close()
    finally:
        server.drop(name)


def test_cli_start_up_error_is_one_line(tmp_path):
    env = {"GISAPP_DATABASE": "postgresql://gisapp:secret@127.0.0.1:1/nothing", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "gisapp", "init-db"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "cannot connect to PostgreSQL" in proc.stderr
    assert "Traceback" not in proc.stderr and "secret" not in proc.stderr


def test_schema_upgrade_adds_missing_columns_and_indexes(empty_store):
    sql(empty_store, "ALTER TABLE back_lanes DROP COLUMN length_m")
    sql(empty_store, 'DROP INDEX "idx_reports_0"')
    env = {"GISAPP_DATABASE": url_of(empty_store), "GISAPP_LOAD_DEMO": "false", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "gisapp", "upgrade-db"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "added column back_lanes.length_m" in proc.stdout and f"schema version {SCHEMA_VERSION}" in proc.stdout
    assert sql(empty_store, "SELECT 1 FROM pg_indexes WHERE indexname = 'idx_reports_0'")
    again = subprocess.run([sys.executable, "-m", "gisapp", "upgrade-db"], env=env, capture_output=True, text=True)
    assert "up to date" in again.stdout


def test_gdal_reads_the_store(app):
    store = app.extensions["gisapp"]["store"]
    info = psycopg.conninfo.conninfo_to_dict(url_of(store))
    dsn = "PG:" + " ".join(f"{k}={v}" for k, v in info.items() if k in ("host", "port", "dbname", "user", "password"))
    out = subprocess.run(["ogrinfo", "-ro", "-so", dsn, "back_lanes"], capture_output=True, text=True, check=True).stdout
    assert "Geometry: Line String" in out and f"Feature Count: {store.count('back_lanes')}" in out
    assert 'ID["EPSG",4326]' in out


def test_fast_point_encoding_matches_shapely():
    from gisapp.storage.pg_format import ewkb
    pts = list(shapely.points([(104.98, 29.18), (-0.0, 1e-300), (180, -90)])) + [shapely.from_wkt("POINT EMPTY")]
    lines = [shapely.LineString([(0, 0), (1, 1)])]
    for geoms in (pts, lines):
        for hex in (True, False):
            assert ewkb(geoms, hex) == shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=hex, include_srid=True).tolist()


def _index_names(store) -> set[str]:
    return {n for (n,) in sql(store, "SELECT indexname FROM pg_indexes WHERE tablename = 'reports'")} | \
        {n for (n,) in sql(store, "SELECT conname FROM pg_constraint WHERE conrelid = 'reports'::regclass")}


def test_bulk_insert_rebuilds_indexes_and_a_failure_keeps_them(empty_store, monkeypatch):
    import geopandas as gpd
    from gisapp.errors import Conflict
    from gisapp.storage import pg_copy
    monkeypatch.setattr(pg_copy, "BULK_ROWS", 100)
    indexes = _index_names(empty_store)
    assert {"reports_geom_gist", "idx_reports_0"} <= indexes

    def rows(n, prefix):
        return gpd.GeoDataFrame({"code": [f"{prefix}{i}" for i in range(n)], "category": "other", "status": "reported",
                                 "source": "field", "reported_at": "2023-01-01T00:00:00Z"},
                                geometry=shapely.points([(104.9 + i * 1e-4, 29.1) for i in range(n)]), crs=4326)
    with empty_store.writer("t") as w:
        fids = w.insert("reports", rows(300, "A"))
    assert fids == sorted(fids) and len(set(fids)) == 300
    assert _index_names(empty_store) == indexes
    assert empty_store.count("reports", bbox=(104.89995, 29.0, 104.90055, 29.2)) == 6
    bad = rows(400, "B")
    bad.loc[399, "code"] = "A0"  # a duplicate, found during the COPY
    with pytest.raises(Conflict):
        with empty_store.writer("t") as w:
            w.insert("reports", bad)
    assert _index_names(empty_store) == indexes and empty_store.count("reports") == 300


def test_a_dead_pooled_connection_is_replaced(empty_store):
    pid = empty_store._query("SELECT pg_backend_pid()")[0][0]
    sql(empty_store, "SELECT pg_terminate_backend(%s)", (pid,))  # as a server restart would
    assert empty_store.count("reports") == 0
    assert empty_store._query("SELECT pg_backend_pid()")[0][0] != pid


def _exact_clusters(gdf, cell, community=None, lo=None, hi=None):
    """What the cell summary must give: every point of the filter on the global grid."""
    from gisapp.storage.base import grid
    keep = pd.Series(True, index=gdf.index)
    if community is not None:
        keep &= gdf["community_code"] == community
    if lo is not None:
        keep &= gdf["reported_at"] >= lo
    if hi is not None:
        keep &= gdf["reported_at"] <= hi
    pts = gdf[keep]
    size = grid(cell)[1]
    df = pd.DataFrame({"gx": (pts.geometry.x // size).astype(int), "gy": (pts.geometry.y // size).astype(int),
                       "x": pts.geometry.x, "y": pts.geometry.y})
    out = df.groupby(["gx", "gy"]).agg(n=("x", "size"), x=("x", "mean"), y=("y", "mean")).reset_index()
    return {(int(r.gx) * 4294967296 + int(r.gy)): (int(r.n), r.x, r.y) for r in out.itertuples()}


def _check_summary(store, cell, **filt):
    from gisapp.storage import pg_cells
    where = {}
    if filt.get("community") is not None:
        where["community_code"] = filt["community"]
    span = {op: filt[k] for op, k in ((">=", "lo"), ("<=", "hi")) if filt.get(k) is not None}
    if span:
        where["reported_at"] = span
    summary = pg_cells.cluster_sql((104.0, 28.0, 106.0, 30.0), cell, where)
    dated = "reported_at" in where
    assert (summary is None) == (dated and cell < 0.002)  # no summary by month on the finest grid
    got = store.cluster("reports", (104.0, 28.0, 106.0, 30.0), cell, where=where or None)
    want = _exact_clusters(store.read("reports"), cell, **filt)
    assert {int(k): int(n) for k, n in zip(got["fid"], got["n"])} == {k: v[0] for k, v in want.items()}
    for k, x, y in zip(got["fid"], got["x"], got["y"]):
        assert abs(x - want[int(k)][1]) < 1e-9 and abs(y - want[int(k)][2]) < 1e-9


def test_cell_summary_answers_clusters_exactly_through_writes(empty_store):
    import geopandas as gpd
    import numpy as np
    rng = np.random.default_rng(3)
    n = 3000
    months = [f"2023-{m:02d}-{d:02d}T{h:02d}:00:00Z" for m, d, h in
              zip(rng.integers(1, 13, n), rng.integers(1, 29, n), rng.integers(0, 24, n))]
    rows = gpd.GeoDataFrame({"code": [f"S{i}" for i in range(n)], "category": "dumping", "status": "reported",
                             "source": "field", "community_code": [None, "C1", "C2"] * (n // 3),
                             "reported_at": months},
                            geometry=shapely.points(rng.uniform(104.9, 105.1, n), rng.uniform(29.1, 29.3, n)), crs=4326)
    with empty_store.writer("tester") as w:
        w.insert("reports", rows)  # COPY: the statement trigger fills the summary
    cases = [dict(), dict(community="C1"), dict(lo="2023-03-01"), dict(hi="2023-06-30T23:59:59Z"),
             dict(lo="2023-02-14", hi="2023-09-03T23:59:59Z", community="C2"), dict(lo="2023-05-10", hi="2023-05-20")]
    for cell in (0.05, 0.004, 0.0015):  # levels 12 (from 14's cells), 16, 17 (from 18, undated only)
        for filt in cases:
            _check_summary(empty_store, cell, **filt)
    fids = empty_store.read("reports", limit=3, geometry=False).index.tolist()
    with empty_store.writer("tester") as w:  # move one, recategorise one's community and date, delete one
        w.update("reports", fids[0], {}, geometry=shapely.Point(104.95, 29.25))
        w.update("reports", fids[1], {"community_code": "C9", "reported_at": "2023-12-31T23:00:00Z"})
        w.update("reports", fids[2], {"status": "closed"})
    sql(empty_store, "DELETE FROM reports WHERE fid = %s", (fids[2],))  # outside the app, as psql would
    for filt in cases + [dict(community="C9")]:
        _check_summary(empty_store, 0.004, **filt)


def _summary_rows(store) -> dict:
    return {tuple(r[:5]): tuple(r[5:]) for r in
            sql(store, "SELECT level, gx, gy, grp, month, n, sx, sy FROM gisapp_report_cells")}


def test_a_bulk_insert_adds_the_cell_summary_the_trigger_would(empty_store, monkeypatch):
    import geopandas as gpd
    import numpy as np
    from gisapp.errors import Conflict
    from gisapp.storage import pg_cells, pg_copy
    monkeypatch.setattr(pg_copy, "BULK_ROWS", 100)
    rng = np.random.default_rng(5)

    def rows(n, prefix, community=True):
        x, y = rng.uniform(104.8, 105.2, n), rng.uniform(29.0, 29.4, n)
        x[:3] = [104.96044921875, 104.9615478515625, 105.0]  # on cell edges of levels 18, 16, 14
        data = {"code": [f"{prefix}{i}" for i in range(n)], "category": "dumping", "status": "reported",
                "source": "field", "reported_at": [f"202{i % 3}-{i % 12 + 1:02d}-0{i % 9 + 1}T08:00:00Z" for i in range(n)]}
        if community:
            data["community_code"] = [None, "C1", "C2"] * (n // 3) + [None] * (n % 3)
        return gpd.GeoDataFrame(data, geometry=shapely.points(x, y), crs=4326)
    with empty_store.writer("tester") as w:
        w.insert("reports", rows(60, "T"))  # small: the trigger keeps the summary
    # from here on the trigger would fail: a bulk insert must pause it and add the summary itself
    sql(empty_store, "CREATE OR REPLACE FUNCTION gisapp_report_cells() RETURNS trigger LANGUAGE plpgsql "
                     "AS $$ BEGIN RAISE EXCEPTION 'trigger ran'; END $$")
    with empty_store.writer("tester") as w:
        w.insert("reports", rows(900, "A"))
        w.insert("reports", rows(2000, "B", community=False))  # twice in one transaction, no community given
    with empty_store.writer("tester") as w:
        w.insert("reports", rows(150, "E"))  # fewer cells than the summary holds: merged, not rewritten
    got = _summary_rows(empty_store)
    assert sql(empty_store, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'gisapp_report_cells_pkey'") \
        == [("PRIMARY KEY (level, gx, gy, grp, month) INCLUDE (n, sx, sy)",)]
    with pytest.raises(Exception, match="trigger ran"):  # the trigger is back after the bulk insert
        with empty_store.writer("tester") as w:
            w.insert("reports", rows(5, "C"))
    bad = rows(400, "D")
    bad.loc[399, "code"] = "A0"  # a duplicate: the whole insert fails, the summary stays as it was
    with pytest.raises(Conflict):
        with empty_store.writer("tester") as w:
            w.insert("reports", bad)
    assert _summary_rows(empty_store) == got
    assert sql(empty_store, "SELECT tgenabled FROM pg_trigger WHERE tgname = 'gisapp_report_cells_insert'") == [("O",)]
    sql(empty_store, "TRUNCATE gisapp_report_cells")
    sql(empty_store, pg_cells._upsert("reports", ""))  # what the trigger's SQL gives for the same table
    want = _summary_rows(empty_store)
    assert got.keys() == want.keys() and sum(v[0] for k, v in got.items() if k[0] == 14) == 3110
    for key, (n, sx, sy) in want.items():
        assert got[key][0] == n and got[key][1] == pytest.approx(sx, abs=1e-9) and got[key][2] == pytest.approx(sy, abs=1e-9)


def test_cell_summary_is_built_for_an_existing_store(empty_store, registry):
    import geopandas as gpd
    rows = gpd.GeoDataFrame({"code": ["A", "B"], "category": "dumping", "status": "reported", "source": "field",
                             "reported_at": "2023-04-01T08:00:00Z"},
                            geometry=shapely.points([104.97, 104.98], [29.18, 29.19]), crs=4326)
    with empty_store.writer("tester") as w:
        w.insert("reports", rows)
    sql(empty_store, "DROP TABLE gisapp_report_cells")  # a store made before the summary existed
    store = open_store(url_of(empty_store), registry)
    store.initialize()
    assert "built table gisapp_report_cells" in store.changes
    assert sql(store, "SELECT sum(n) FROM gisapp_report_cells WHERE level = 14")[0][0] == 2
    _check_summary(store, 0.05)
    sql(store, "COMMENT ON TABLE gisapp_report_cells IS 'gisapp cell summary 0'")  # another definition
    sql(store, "DELETE FROM gisapp_report_cells")
    store.initialize()
    assert "built table gisapp_report_cells" in store.changes
    _check_summary(store, 0.0015)
    store.initialize()
    assert store.changes == []
    store.close()


def test_a_role_with_data_rights_only_runs_the_app_and_bulk_inserts(empty_store, registry, monkeypatch):
    """Where a DBA owns the tables and the app's role may only read and write rows: the app
    starts on a current schema, bulk inserts take the paths that need no ownership, and a schema
    that needs changes stops it with a message saying who must upgrade it."""
    import geopandas as gpd
    from gisapp.storage import pg_copy
    role = psycopg.conninfo.conninfo_to_dict(url_of(empty_store))["user"] + "_data"
    if not sql(empty_store, "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)):
        pytest.skip(f"no role {role} (made by scripts/postgres.sh)")
    sql(empty_store, f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
    sql(empty_store, f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    monkeypatch.setattr(pg_copy, "BULK_ROWS", 100)
    indexes = _index_names(empty_store)
    store = open_store(url_of(empty_store) + f"?options=-c%20role%3D{role}", registry)
    assert store._query("SELECT current_user")[0][0] == role
    assert store.initialize() is False and store.changes == []
    n = 500
    rows = gpd.GeoDataFrame({"code": [f"R{i}" for i in range(n)], "category": "dumping", "status": "reported",
                             "source": "field", "reported_at": "2023-04-01T08:00:00Z"},
                            geometry=shapely.points(104.9 + np.arange(n) * 1e-4, np.full(n, 29.1)), crs=4326)
    with store.writer("clerk") as w:  # large enough for the owner's bulk paths: here row by row, trigger on
        fids = w.insert("reports", rows)
        w.update("reports", fids[0], {"status": "closed"})
        w.delete("reports", fids[1])
    assert store.count("reports") == n - 1 and _index_names(empty_store) == indexes
    assert sql(empty_store, "SELECT sum(n) FROM gisapp_report_cells WHERE level = 14")[0][0] == n - 1
    _check_summary(store, 0.05)
    sql(empty_store, "DROP INDEX idx_reports_2")  # a newer layer definition needs an index
    with pytest.raises(StoreError, match="upgrade-db.*owner"):
        store.initialize()
    assert "idx_reports_2" not in _index_names(empty_store) and store.count("reports") == n - 1
    store.close()
    owner = open_store(url_of(empty_store), registry)
    owner.initialize()
    assert _index_names(empty_store) == indexes
    owner.close()
