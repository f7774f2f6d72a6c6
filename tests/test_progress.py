"""Progress joins and aggregations, on plain DataFrames (no store, no HTTP)."""
import datetime as dt

import pandas as pd
import pytest

from gisapp.progress import by_community, by_month, count_by_status, feature_state, history, latest, month_ends


@pytest.fixture
def records():
    rows = [
        # layer, code, date, status, percent, area_m2
        ("back_lanes", "A", "2023-01-10", "planned", 0, 0),
        ("back_lanes", "A", "2023-03-05", "in_progress", 40, 300),
        ("back_lanes", "A", "2023-06-20", "done", 100, 800),
        ("back_lanes", "B", "2023-02-01", "planned", 0, 0),
        ("back_lanes", "B", "2023-04-15", "in_progress", 50, 200),
        ("back_lanes", "B", "2023-04-15", "in_progress", 60, 250),  # same day: the later record wins
        ("markets", "A", "2023-05-01", "accepted", 100, 999),  # same code, other layer
    ]
    df = pd.DataFrame(rows, columns=["layer", "feature_code", "record_date", "status", "percent", "area_m2"])
    df.index = range(1, len(df) + 1)
    return df


@pytest.fixture
def features():
    return pd.DataFrame({"code": ["A", "B", "C"], "community_code": ["X", "X", "Y"]}, index=[10, 11, 12])


def test_latest_picks_newest_record_per_feature(records):
    state = latest(records)
    assert state.loc[("back_lanes", "A"), "status"] == "done"
    assert state.loc[("back_lanes", "B"), "percent"] == 60
    assert state.loc[("markets", "A"), "area_m2"] == 999


def test_as_of_date_gives_past_state(records, features):
    state = feature_state(features, records, "back_lanes", as_of=dt.date(2023, 4, 1), quantities=["area_m2"])
    assert state["status"].tolist() == ["in_progress", "planned", None]
    assert state["area_m2"].tolist()[:2] == [300, 0]
    assert state.loc[10, "status_date"] == "2023-03-05"
    before = feature_state(features, records, "back_lanes", as_of="2022-12-31", quantities=["area_m2"])
    assert before["status"].isna().all()


def test_history_newest_first(records):
    h = history(records, "back_lanes", "B")
    assert h["percent"].tolist() == [60, 50, 0]


def test_counts_and_totals_by_community(records, features):
    state = feature_state(features, records, "back_lanes", quantities=["area_m2"])
    assert count_by_status(state) == {"planned": 0, "in_progress": 1, "done": 1, "accepted": 0, "none": 1}
    table = by_community(state, "community_code", ["area_m2"])
    assert table.loc["X", "features"] == 2 and table.loc["X", "done"] == 1
    assert table.loc["X", "area_m2"] == 1050 and table.loc["Y", "none"] == 1


def test_by_month_is_cumulative_state_at_month_end(records):
    months = by_month(records, "back_lanes", ["area_m2"])
    assert months["month"].tolist() == ["2023-01", "2023-02", "2023-03", "2023-04", "2023-05", "2023-06"]
    assert months.set_index("month").loc["2023-04", "area_m2"] == 300 + 250
    assert months.set_index("month").loc["2023-06", "done"] == 1


def test_month_ends():
    assert month_ends(dt.date(2023, 11, 3), dt.date(2024, 2, 10)) == [
        dt.date(2023, 11, 30), dt.date(2023, 12, 31), dt.date(2024, 1, 31), dt.date(2024, 2, 10)]
