"""Automatic assignment of report positions: gisapp.reports.assign vs GeoPandas' joins.

For N random points over the demo subdistrict (default 1,000,000) it prints the time
gisapp takes to give each point its community, grid cell, compound, market (point in
polygon), nearest back lane within 30 m with the lanes about as near, and the in-area
test; beside it the same answers from geopandas.sjoin (four polygon layers) and
sjoin_nearest (lanes, max_distance) on the same points, and whether both agree.

Run: .venv/bin/python benchmarks/bench_assign.py [--points 1000000] [--repeat 3] [--no-peer]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gisapp import create_app  # noqa: E402
from gisapp.reports.assign import LANES, METRIC_CRS, POLYGON_LAYERS, assign, load_areas  # noqa: E402


def timed(func, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def peer(store, lon, lat, distance: float) -> dict:
    """The same assignment with geopandas' spatial joins (points projected first)."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326).to_crs(METRIC_CRS)
    out = {}
    for column, layer in POLYGON_LAYERS.items():
        polygons = store.read(layer, columns=["code"]).to_crs(METRIC_CRS)
        joined = gpd.sjoin(points, polygons, predicate="intersects", how="left")
        out[column] = joined[~joined.index.duplicated()]["code"].to_numpy()
    lanes = store.read(LANES, columns=["code"]).to_crs(METRIC_CRS)
    nearest = gpd.sjoin_nearest(points, lanes, how="left", max_distance=distance)
    out["lane_code"] = nearest[~nearest.index.duplicated()]["code"].to_numpy()
    return out


def agree(ours, theirs) -> bool:
    return all((ours[c].fillna("-").to_numpy() == np.where(pd.isna(theirs[c]), "-", theirs[c])).all() for c in theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE": str(Path(tmp) / "demo.gpkg"), "TESTING": True})
        store = app.extensions["gisapp"]["store"]
        start = time.perf_counter()
        areas = load_areas(store)
        setup = time.perf_counter() - start
        rng = np.random.default_rng(4)
        west, south, east, north = store.read("subdistrict").total_bounds
        lon, lat = rng.uniform(west, east, args.points), rng.uniform(south, north, args.points)
        best, median, ours = timed(lambda: assign(areas, lon, lat), args.repeat)
        print(f"points: {args.points:,}  (layers read and indexed once: {setup:.3f} s)")
        print(f"gisapp assign (community, grid, compound, market, nearest lane + ties, in area): "
              f"best {best:.2f} s, median {median:.2f} s, {args.points / best / 1e6:.2f} M points/s")
        counts = {c: int(ours[c].notna().sum()) for c in ["community_code", "grid_code", "lane_code", "compound_code", "market_code"]}
        print(f"assigned: {counts}; lanes about as near: {int(ours['lane_alternatives'].notna().sum())}")
        if args.no_peer:
            return
        pbest, pmedian, theirs = timed(lambda: peer(store, lon, lat, areas.lane_distance_m), 1)
        print(f"geopandas sjoin x4 + sjoin_nearest: {pbest:.2f} s ({pbest / best:.1f}x gisapp); same answers: {agree(ours, theirs)}")


if __name__ == "__main__":
    main()
