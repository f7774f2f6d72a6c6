"""Automatic assignment: the same answers as GeoPandas' joins, lanes about as near
offered together, compounds and markets, the area with its margin."""
import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisapp.reports.assign import (METRIC_CRS, POLYGON_LAYERS, Areas, Index, assign, assign_one, load_areas,
                                   to_metric)


def test_assignment_agrees_with_geopandas_joins(store):
    areas = load_areas(store, lane_distance_m=30)
    rng = np.random.default_rng(7)
    west, south, east, north = store.read("subdistrict").total_bounds
    lon, lat = rng.uniform(west, east, 20_000), rng.uniform(south, north, 20_000)
    ours = assign(areas, lon, lat)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326).to_crs(METRIC_CRS)
    for column, layer in POLYGON_LAYERS.items():
        joined = gpd.sjoin(points, store.read(layer, columns=["code"]).to_crs(METRIC_CRS), predicate="intersects", how="left")
        expected = joined[~joined.index.duplicated()]["code"].fillna("-").to_numpy()
        assert (ours[column].fillna("-").to_numpy() == expected).all(), column
    lanes = store.read("back_lanes", columns=["code"]).to_crs(METRIC_CRS)
    nearest = gpd.sjoin_nearest(points, lanes, how="left", max_distance=30, distance_col="d")
    nearest = nearest[~nearest.index.duplicated()]
    assert (ours["lane_code"].fillna("-").to_numpy() == nearest["code"].fillna("-").to_numpy()).all()
    got = ours["lane_distance_m"].to_numpy()
    assert np.allclose(got[~np.isnan(got)], nearest["d"].to_numpy()[~np.isnan(got)], atol=0.06)
    assert ours["community_code"].notna().sum() > 10_000 and ours["market_code"].notna().sum() > 0


def test_markets_and_compounds(store):
    areas = load_areas(store)
    for layer, column in (("markets", "market_code"), ("compounds", "compound_code")):
        row = store.read(layer).iloc[0]
        p = row.geometry.representative_point()
        assert assign_one(areas, p.x, p.y)[column] == row["code"]


def _toy_areas(margin=200):
    """Two parallel lanes 20 m apart inside one square community (metric coordinates → degrees)."""
    x0, y0 = to_metric(104.98, 29.18)
    x0, y0 = float(x0), float(y0)
    from gisapp.reports.assign import _transformer
    back = _transformer(inverse=True)

    def geo(geom):
        return shapely.transform(geom, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))
    square = geo(shapely.box(x0 - 500, y0 - 500, x0 + 500, y0 + 500))
    lanes = [geo(shapely.LineString([(x0 - 200, y0 - 10), (x0 + 200, y0 - 10)])),
             geo(shapely.LineString([(x0 - 200, y0 + 10), (x0 + 200, y0 + 10)])),
             geo(shapely.LineString([(x0 - 200, y0 + 25), (x0 + 200, y0 + 25)]))]
    area = shapely.buffer(Index.build(["S"], [square]).geoms[0], margin)
    return Areas({"community_code": Index.build(["C1"], [square])}, Index.build(["A", "B", "C"], lanes),
                 area, "toy", 30, 5, margin), x0, y0, back


def test_two_lanes_about_as_near_are_both_offered():
    areas, x0, y0, back = _toy_areas()
    lon, lat = back.transform(np.array([x0, x0, x0]), np.array([y0 + 1, y0 - 8, y0 + 60]))
    out = assign(areas, lon, lat)
    assert out["lane_code"].iloc[0] == "B" and out["lane_alternatives"].iloc[0] == "A"  # 9 m and 11 m
    assert out["lane_code"].iloc[1] == "A" and pd_none(out["lane_alternatives"].iloc[1])  # 2 m and 18 m
    assert pd_none(out["lane_code"].iloc[2]) and np.isnan(out["lane_distance_m"].iloc[2])  # 35 m away: none
    assert out["lane_distance_m"].iloc[0] == pytest.approx(9, abs=0.05)


def pd_none(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


@pytest.mark.parametrize("margin, inside", [(200, True), (100, False)])
def test_the_area_margin(margin, inside):
    areas, x0, y0, back = _toy_areas(margin)
    lon, lat = back.transform(x0 + 650, y0)  # 150 m outside the square
    assert assign_one(areas, float(lon), float(lat))["inside"] is inside


def test_empty_input_and_a_store_without_layers(empty_store):
    areas = load_areas(empty_store)
    assert areas.area is None and areas.lanes is None
    out = assign(areas, [104.98], [29.18])
    assert bool(out["inside"].iloc[0]) and out["community_code"].iloc[0] is None
    assert len(assign(areas, [], [])) == 0
