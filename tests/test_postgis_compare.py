"""The two backends side by side: the same calls give the same results, and a store copied
GeoPackage → PostGIS → GeoPackage holds the same records and geometries."""
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisapp.errors import Conflict, NotFound, ValidationFailed
from gisapp.storage import open_store
from gisapp.storage.base import grid

from conftest import pg_server


@pytest.fixture
def both(tmp_path, registry):
    """An empty GeoPackage store and an empty PostGIS store."""
    server = pg_server()
    name = server.create(label="cmp")
    gpkg = open_store(str(tmp_path / "cmp.gpkg"), registry)
    pg = open_store(server.url_of(name), registry)
    for store in (gpkg, pg):
        store.initialize()
    yield gpkg, pg
    gpkg.close()
    pg.close()
    server.drop(name)


def reports(n=60):
    rng = np.random.default_rng(8)
    xs, ys = 104.95 + rng.random(n) * 0.06, 29.16 + rng.random(n) * 0.04
    return gpd.GeoDataFrame({
        "code": [f"R{i:03d}" for i in range(n)],
        "category": [["dumping", "sewer", "street_vending"][i % 3] for i in range(n)],
        "description": [None if i % 7 == 0 else f"巷口 {i}% 堆物_{'ABC'[i % 3]}" for i in range(n)],
        "status": [["reported", "closed"][i % 2] for i in range(n)],
        "source": ["inspection"] * n,
        "community_code": [None if i % 5 == 0 else f"C{i % 4}" for i in range(n)],
        "reported_at": [f"2023-0{1 + i % 9}-{1 + i % 28:02d}T{i % 24:02d}:15:00Z" for i in range(n)],
        "closed_at": [f"2023-10-{1 + i % 28:02d}T08:00:00Z" if i % 2 else None for i in range(n)],
        "accuracy_m": [None if i % 3 == 0 else float(i) / 4 for i in range(n)],
    }, geometry=shapely.points(xs, ys), crs=4326)


def lanes():
    geoms = [shapely.LineString([(104.97 + i * 0.001, 29.18), (104.9705 + i * 0.001, 29.181)]) for i in range(20)]
    return gpd.GeoDataFrame({"code": [f"L{i}" for i in range(20)], "name": [f"巷{i}" for i in range(20)],
                             "community_code": [f"C{i % 3}" for i in range(20)],
                             "length_m": [10.5 * i for i in range(20)]}, geometry=geoms, crs=4326)


def same(a: pd.DataFrame, b: pd.DataFrame, drop=()) -> None:
    a, b = a.drop(columns=list(drop)), b.drop(columns=list(drop))
    if isinstance(a, gpd.GeoDataFrame):
        assert isinstance(b, gpd.GeoDataFrame) and a.crs == b.crs
        assert list(a.index) == list(b.index)
        assert all(shapely.equals_exact(x, y, 0) for x, y in zip(a.geometry, b.geometry))
        a, b = pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    pd.testing.assert_frame_equal(a, b)


READS = [
    {},
    {"where": {"status": "reported"}},
    {"where": {"community_code": None}},
    {"where": {"community_code": ["C1", "C3"], "status": {"!=": "closed"}}},
    {"where": {"community_code": []}},
    {"where": {"reported_at": {">=": "2023-03-01", "<=": "2023-06-30T23:59:59Z"}}},
    {"where": {"accuracy_m": {">": 3, "<": 9.5}}},
    {"where": {"description": {"contains": "4% 堆物_a"}}},
    {"where": {"description": {"contains": "_"}}, "columns": ["code", "description"]},
    {"where": {"fid": {">": 20}}, "limit": 5},
    {"bbox": (104.96, 29.17, 104.99, 29.19)},
    {"bbox": (104.96, 29.17, 104.99, 29.19), "where": {"status": "closed"}, "columns": ["code"]},
    {"order_by": "closed_at", "columns": ["code", "closed_at"]},
    {"order_by": "-closed_at", "columns": ["code", "closed_at"]},
    {"order_by": "-reported_at", "limit": 7, "offset": 3},
    {"order_by": "community_code", "geometry": False},
    {"columns": ["accuracy_m"], "geometry": False, "where": {"code": ["R001", "R002", "nope"]}},
]


def test_same_calls_same_results(both):
    gpkg, pg = both
    fids = []
    for store in both:
        with store.writer("tester", "10.0.0.1") as w:
            fids.append((w.insert("reports", reports()), w.insert("back_lanes", lanes())))
    assert fids[0] == fids[1]
    for kwargs in READS:
        same(gpkg.read("reports", **kwargs), pg.read("reports", **kwargs))
    for kwargs in ({}, {"where": {"status": "reported"}}, {"bbox": (104.96, 29.17, 104.99, 29.19)},
                   {"bbox": (104.96, 29.17, 104.99, 29.19), "where": {"community_code": "C2"}}):
        assert gpkg.count("reports", **kwargs) == pg.count("reports", **kwargs)
    box = (104.9705, 29.1805, 104.9755, 29.1807)  # crosses some lanes, misses others
    same(gpkg.read("back_lanes", bbox=box), pg.read("back_lanes", bbox=box))
    for cell, where, total in ((0.01, None, 60), (0.02, {"status": "reported"}, 30), (0.003, None, 60)):
        a, b = (s.cluster("reports", (104.94, 29.15, 105.02, 29.21), cell, where=where) for s in both)
        assert int(a["n"].sum()) == int(b["n"].sum()) == total
        # the R-tree keeps float32 boxes: a point within ~1e-5° of a cell edge may sit in the next cell
        size = grid(cell)[1]
        pts = pg.read("reports", where=where).geometry
        xy = np.column_stack([pts.x, pts.y]) / size
        edge = int(np.any(np.abs(xy - np.round(xy)) * size < 1e-5, axis=1).sum())
        n = pd.concat([a.set_index("fid")["n"], b.set_index("fid")["n"]], axis=1).fillna(0)
        assert int((n.iloc[:, 0] - n.iloc[:, 1]).abs().sum()) <= 2 * edge
        same_cells = n.index[n.iloc[:, 0] == n.iloc[:, 1]]
        assert len(same_cells) >= len(n) - 2 * edge
        assert np.allclose(a.set_index("fid").loc[same_cells, ["x", "y"]], b.set_index("fid").loc[same_cells, ["x", "y"]],
                           atol=1e-5)

    for store in both:
        with store.writer("editor", "10.0.0.2") as w:
            w.update("reports", 3, {"status": "closed", "closed_at": "2023-12-01T09:30:00Z", "accuracy_m": None},
                     geometry=shapely.Point(104.98, 29.175))
            w.delete("reports", 4)
            w.delete("reports", 999)  # nothing there: nothing happens
            w.set_meta("note", "hello")
            w.insert("progress", pd.DataFrame([{"layer": "back_lanes", "feature_code": "L1", "record_date": d,
                                                "status": "in_progress", "percent": p, "area_m2": p * 2,
                                                "author": "x", "created_at": "2023-05-01T00:00:00Z"}
                                               for d, p in (("2023-05-01", 10.0), ("2023-06-01", 55.5))]))
        with pytest.raises(NotFound):
            with store.writer("editor") as w:
                w.update("reports", 4, {"status": "reported"})
    same(gpkg.read("reports"), pg.read("reports"))
    same(gpkg.progress("back_lanes", until="2023-05-15"), pg.progress("back_lanes", until="2023-05-15"))
    same(gpkg.read("audit"), pg.read("audit"), drop=["at"])
    assert gpkg.meta("note") == pg.meta("note") == "hello"
    assert gpkg.data_version() == pg.data_version() == 2


@pytest.mark.parametrize("table, rows, error", [
    ("reports", {"code": "R001"}, Conflict),  # UNIQUE
    ("reports", {"status": "lost"}, Conflict),  # CHECK
    ("reports", {"category": None}, Conflict),  # NOT NULL
    ("progress", {"percent": 101.0}, Conflict),
])
def test_same_constraint_errors_and_nothing_left(both, table, rows, error):
    for store in both:
        with store.writer("t") as w:
            w.insert("reports", reports(3))
        version, audit = store.data_version(), store.count("audit")
        if table == "reports":
            data = reports(3).iloc[[0]].assign(**{"code": "NEW", **{k: [v] for k, v in rows.items()}})
        else:
            data = pd.DataFrame([{"layer": "back_lanes", "feature_code": "L1", "record_date": "2023-05-01",
                                  "status": "done", "author": "x", "created_at": "2023-05-01T00:00:00Z", **rows}])
        with pytest.raises(error):
            with store.writer("t") as w:
                w.insert("back_lanes", lanes())
                w.insert(table, data)
        assert (store.count("back_lanes"), store.count("audit"), store.data_version()) == (0, audit, version)


def test_same_validation_errors(both):
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    for store in both:
        with pytest.raises(ValidationFailed, match="invalid"):
            with store.writer("t") as w:
                w.insert("markets", gpd.GeoDataFrame({"code": ["A"], "name": ["x"]}, geometry=[bowtie], crs=4326))
        with pytest.raises(ValidationFailed, match="no column"):
            store.read("reports", where={'code" = 1 OR "1" = "1': "x"})
        with pytest.raises(ValidationFailed, match="not spatial"):
            store.read("progress", bbox=(0, 0, 1, 1))
        assert store.read("reports", where={"code": "x'; DROP TABLE reports; --"}).empty
        assert store.count("reports") == 0


def _cli(db: str, *args) -> subprocess.CompletedProcess:
    env = {"GISAPP_DATABASE": db, "GISAPP_LOAD_DEMO": "false", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "gisapp", *args], env=env, capture_output=True, text=True)


@pytest.mark.gpkg_only
def test_copy_round_trip_keeps_every_record_and_geometry(demo_db, registry, tmp_path):
    """GeoPackage → PostGIS → GeoPackage with the copy-store command."""
    server = pg_server()
    pg_url = server.url_of(server.create(label="copy"))
    back = tmp_path / "back.gpkg"
    first = _cli(str(demo_db), "copy-store", str(demo_db), pg_url)
    assert first.returncode == 0 and "copied" in first.stdout, first.stderr
    assert "gisapp:***@" in first.stdout and ":gisapp@" not in first.stdout  # no password printed
    second = _cli(pg_url, "copy-store", pg_url, str(back))
    assert second.returncode == 0, second.stderr
    again = _cli(pg_url, "copy-store", str(demo_db), pg_url)
    assert again.returncode == 2 and "already holds data" in again.stderr and "Traceback" not in again.stderr

    original, middle, result = (open_store(u, registry) for u in (str(demo_db), pg_url, str(back)))
    for table in original.specs:
        want = original.read(table)
        for other in (middle, result):
            got = other.read(table)
            if table == "audit":  # the copies add their own audit rows, after the copied ones
                extra = got.loc[~got.index.isin(want.index)]
                assert set(extra["action"]) == {"copy_store", "set_meta"} and got.index.max() > want.index.max()
                got = got.loc[want.index]
            if table == "gisapp_meta":
                meta = [d.set_index("key")["value"].drop("data_version") for d in (got, want)]
                pd.testing.assert_series_equal(*meta)
                continue
            same(want, got)
    assert int(result.meta("data_version")) == int(original.meta("data_version")) + 2
    out = subprocess.run(["ogrinfo", "-ro", "-so", str(back), "reports"], capture_output=True, text=True).stdout
    assert f"Feature Count: {original.count('reports')}" in out
    bbox = (104.97, 29.17, 104.99, 29.19)
    assert result.count("reports", bbox=bbox) == original.count("reports", bbox=bbox)  # R-tree rebuilt
    for store in (original, middle, result):
        store.close()
    server.drop(Path(pg_url).name)
