"""Map data as plain functions: filters, as-of states, clusters, search, the GCJ-02 shift."""
import datetime as dt
import math

import geopandas as gpd
import numpy as np
import prcoords
import pytest
import shapely
from werkzeug.datastructures import MultiDict

from gisapp.dashboard import dashboard
from gisapp.errors import BadRequest
from gisapp.mapdata import (CLUSTER_GRID, MAX_POINTS, MapFilter, layer_geojson, layer_state, parse_bbox, parse_filter,
                            reports_geojson, search)
from gisapp.progress import feature_state

HOUJIE = "510322100031"  # 后街社区


@pytest.mark.parametrize("args, message", [
    ({"status": "finished"}, "status"), ({"as_of": "2023-02-30"}, "as_of"), ({"from": "x"}, "from"),
    ({"community": "999"}, "社区"), ({"layers": "back_lanes,bogus"}, "layers"),
    ({"from": "2023-05-01", "to": "2023-04-01"}, "开始日期"),
])
def test_bad_filters_are_400_with_a_message(store, args, message):
    with pytest.raises(BadRequest) as err:
        parse_filter(MultiDict(args), store)
    assert message in err.value.message("zh")


@pytest.mark.parametrize("value", ["1,2,3", "a,b,c,d", "nan,0,1,1", "10,0,5,1", "0,0,200,1", "inf,0,1,1"])
def test_bad_bbox(value):
    with pytest.raises(BadRequest):
        parse_bbox(value)


def test_repeated_and_comma_separated_parameters_agree(store):
    a = parse_filter(MultiDict([("status", "done"), ("status", "accepted")]), store)
    b = parse_filter(MultiDict({"status": "done,accepted"}), store)
    assert a == b and a.statuses == ("done", "accepted")
    assert MapFilter(**{**a.__dict__}).query() == {"status": "done,accepted"}


def test_lanes_in_progress_in_houjie_on_a_past_day(store):
    """The planner's question, answered from the progress history, not today's data."""
    lanes = store.registry.get("back_lanes")
    records = store.progress("back_lanes")
    expected = feature_state(store.read("back_lanes", where={"community_code": HOUJIE}), records, "back_lanes")
    mine = records[records["feature_code"].isin(expected["code"]) & (records["status"] == "in_progress")]
    day = dt.date.fromisoformat(mine["record_date"].min())  # a day when a lane there was being worked on
    got = layer_state(store, lanes, MapFilter(community=HOUJIE, statuses=("in_progress",), as_of=day))
    past = []
    for code in expected["code"]:
        mine = records[(records["feature_code"] == code) & (records["record_date"] <= day.isoformat())]
        if len(mine) and mine.iloc[-1]["status"] == "in_progress":
            past.append(code)
    assert past and sorted(got["code"]) == sorted(past)
    assert len(expected) >= 2  # 后街社区 has lanes in the demo
    today = layer_state(store, lanes, MapFilter(community=HOUJIE, statuses=("in_progress",)))
    assert today.empty  # all 21 lanes are finished now


def test_date_range_keeps_features_with_records_in_it(store):
    lanes = store.registry.get("back_lanes")
    filt = MapFilter(date_from=dt.date(2023, 10, 1), date_to=dt.date(2023, 10, 31))
    got = layer_state(store, lanes, filt)
    records = store.progress("back_lanes")
    inside = set(records[(records["record_date"] >= "2023-10-01") & (records["record_date"] <= "2023-10-31")]["feature_code"])
    assert set(got["code"]) == inside


def test_gcj02_shift_agrees_with_prcoords(store):
    lanes = store.registry.get("back_lanes")
    wgs = layer_geojson(store, lanes, MapFilter(), "zh")
    gcj = layer_geojson(store, lanes, MapFilter(), "zh", gcj02=True)
    for a, b in zip(wgs["features"], gcj["features"]):
        for (lon, lat), (glon, glat) in zip(a["geometry"]["coordinates"], b["geometry"]["coordinates"]):
            ref = prcoords.wgs_gcj((lat, lon))
            metres = math.hypot((ref[1] - glon) * 111_320 * math.cos(math.radians(lat)), (ref[0] - glat) * 110_540)
            assert metres < 0.1


def test_many_reports_are_clustered_on_the_server(store):
    rng = np.random.default_rng(1)
    n = MAX_POINTS + 500
    pts = shapely.points(rng.uniform(104.97, 105.0, n), rng.uniform(29.17, 29.19, n))
    rows = gpd.GeoDataFrame({"code": [f"T{i}" for i in range(n)], "category": "other", "status": "reported",
                             "source": "field", "community_code": HOUJIE, "reported_at": "2023-12-20T08:00:00Z"},
                            geometry=pts, crs=4326)
    with store.writer("loadtest") as w:
        w.insert("reports", rows)
    box = (104.9, 29.1, 105.1, 29.3)
    data = reports_geojson(store, MapFilter(), "zh", box)
    assert data["clustered"] and sum(f["properties"]["n"] for f in data["features"]) == store.count("reports")
    assert len(data["features"]) <= CLUSTER_GRID * CLUSTER_GRID
    small = reports_geojson(store, MapFilter(), "zh", (104.97, 29.17, 104.972, 29.172))
    assert not small["clustered"] and 0 < len(small["features"]) < MAX_POINTS
    early = reports_geojson(store, MapFilter(as_of=dt.date(2023, 3, 31)), "zh", box)
    assert not early["clustered"]  # December's test reports did not exist yet


def test_search_finds_names_and_treats_wildcards_literally(store):
    hits = search(store, "吉安庄", "zh")
    assert hits[0]["layer"] == "markets" and hits[0]["name"] == "吉安庄农贸市场"
    assert search(store, "%", "zh") == [] and search(store, "_", "zh") == []
    assert search(store, "   ", "zh") == []
    assert all(h["name"] for h in search(store, "社区", "zh"))


def test_dashboard_numbers_follow_filters(store, app):
    figures = app.extensions["gisapp"]["figures"]
    whole = dashboard(store, figures, MapFilter(), "back_lanes", "zh")
    assert whole["features"] == 21 and sum(r["features"] for r in whole["by_community"]) == 21
    total = sum(r["area_m2"] for r in whole["by_community"])
    assert total == 19700 == next(f["value"] for f in whole["figures"] if f["key"] == "lanes_surface_m2")
    one = dashboard(store, figures, MapFilter(community=HOUJIE), "back_lanes", "zh")
    assert [r["community"] for r in one["by_community"]] == [HOUJIE]
    lanes_fig = next(f["value"] for f in one["figures"] if f["key"] == "lanes_renovated")
    assert lanes_fig == one["features"]
    assert whole["timeline"][-1]["area_m2"] == 19700
    assert [r["month"] for r in whole["timeline"]] == sorted(r["month"] for r in whole["timeline"])


def test_open_reports_read_as_open_in_views_and_popups(store):
    """Missing closing times come back as NaN in pandas' string columns: never "closed", never "nan"."""
    from gisapp.mapdata import report_popup
    reports = store.read("reports", columns=["closed_at"], geometry=False)
    open_fid = int(reports.index[reports["closed_at"].isna()][0])
    html = report_popup(store, open_fid, "zh")
    assert "nan" not in html and "<th>结案时间</th><td>—</td>" in html
    first = min(store.read("reports", columns=["reported_at"], geometry=False)["reported_at"])
    day = dt.date.fromisoformat(first[:10])  # the first day with reports: none closed yet
    data = reports_geojson(store, MapFilter(as_of=day), "zh", (104.0, 28.0, 106.0, 30.0))
    assert data["features"] and {f["properties"]["s"] for f in data["features"]} == {"open"}
    now = reports_geojson(store, MapFilter(), "zh", (104.0, 28.0, 106.0, 30.0))
    states = {f["id"]: f["properties"]["s"] for f in now["features"]}
    assert states[open_fid] == "open" and "closed" in states.values()
