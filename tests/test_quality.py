"""Data-quality findings, made from real records written through the store."""
import datetime as dt

import geopandas as gpd
import pandas as pd
import shapely

from gisapp.quality import findings

DAY = dt.date(2023, 12, 31)


def record(layer, code, day, status, **values):
    return {"layer": layer, "feature_code": code, "record_date": day, "status": status, "percent": values.pop("percent", 100.0),
            "note": values.pop("note", None), "author": "tester", "created_at": "2024-01-01T00:00:00Z", **values}


def kinds(store, code):
    return sorted(f["kind"] for f in findings(store, DAY) if f["code"] == code)


def test_demo_findings_are_only_stale_points(store):
    got = findings(store, DAY)
    assert {f["kind"] for f in got} == {"stale"}
    assert {f["layer"] for f in got} <= {"practice_points", "publicity_points"}


def test_each_kind_of_inconsistency_is_found(store):
    lanes = store.read("back_lanes", geometry=False)
    a, b, c = lanes.iloc[0], lanes.iloc[1], lanes.iloc[2]
    area = store.read("renovation_areas", geometry=False).iloc[0]
    rows = [
        record("back_lanes", a["code"], "2023-12-30", "accepted", area_m2=0.0, spaces=0.0, funds_cny=0.0, note="归零"),
        record("back_lanes", b["code"], "2023-12-30", "accepted", area_m2=a["length_m"] * 1000, spaces=1.0, funds_cny=1.0),
        record("back_lanes", c["code"], "2023-12-30", "in_progress", percent=50.0, area_m2=1.0, spaces=1.0, funds_cny=1.0),
        record("renovation_areas", area["code"], "2023-12-30", "accepted", funds_cny=area["budget_cny"] * 2 + 1),
    ]
    with store.writer("tester") as w:
        w.insert("progress", pd.DataFrame(rows))
        w.insert("markets", gpd.GeoDataFrame({"code": ["NEWM"], "name": ["新市场"], "community_code": ["C"]},
                                             geometry=[shapely.box(104.98, 29.18, 104.981, 29.181)], crs=4326))
    assert kinds(store, a["code"]) == ["zero_quantity"]  # the note explains the drop, so it is not out of order
    assert "too_large" in kinds(store, b["code"])
    assert kinds(store, c["code"]) == ["out_of_order"]  # accepted -> in progress without a reason
    assert "over_budget" in kinds(store, area["code"])
    assert kinds(store, "NEWM") == ["no_record"]
    stale = findings(store, dt.date(2024, 6, 1))
    assert any(f["code"] == c["code"] and f["kind"] == "stale" for f in stale)


def test_quality_page_and_json(client):
    body = client.get("/api/quality").get_json()
    assert body["stale_weeks"] == 4 and all("message" in f for f in body["findings"])
    page = client.get("/quality").get_data(as_text=True)
    assert "数据质量" in page and "focus=" in page
