"""Drawing and editing features: geometry checks, typed attributes, the API, and a real browser."""
import pytest
import shapely

from gisapp.editing import attributes, prepare_geometry
from gisapp.errors import ValidationFailed

SQUARE = {"type": "Polygon", "coordinates": [[[104.983, 29.18], [104.984, 29.18], [104.984, 29.181],
                                              [104.983, 29.181], [104.983, 29.18]]]}


@pytest.mark.parametrize("geometry, message", [
    ({"type": "Polygon", "coordinates": [[[104.983, 29.18], [104.984, 29.181], [104.984, 29.18], [104.983, 29.181],
                                          [104.983, 29.18]]]}, "自相交"),
    ({"type": "Polygon", "coordinates": [[[110, 30], [110.1, 30], [110.1, 30.1], [110, 30]]]}, "辖区"),
    ({"type": "Point", "coordinates": [104.983, 29.18]}, "需要"),
    ({"type": "Polygon", "coordinates": [[[1e400, 0], [1, 1], [0, 1], [1e400, 0]]]}, "坐标"),
    ({"type": "Nonsense"}, "几何数据无效"), ("garbage", "几何数据无效"),
])
def test_bad_drawings_are_refused(store, geometry, message):
    from gisapp.editing import outline
    with pytest.raises(ValidationFailed) as err:
        prepare_geometry(store.registry.get("markets"), geometry, outline(store))
    assert message in err.value.message("zh")


def test_single_polygon_becomes_the_layers_multipolygon(store):
    geom = prepare_geometry(store.registry.get("communities"), SQUARE, None)
    assert geom.geom_type == "MultiPolygon" and geom.equals(shapely.geometry.shape(SQUARE))


def test_attributes_are_typed_by_the_definition(registry):
    lanes = registry.get("back_lanes")
    got = attributes(lanes, {"code": "BJ99", "name": "新巷", "community_code": "C", "length_m": "120.5"})
    assert got["length_m"] == 120.5 and got["manager"] is None
    with pytest.raises(ValidationFailed, match="required"):
        attributes(lanes, {"code": "BJ99", "community_code": "C"})
    with pytest.raises(ValidationFailed, match="invalid value"):
        attributes(lanes, {"code": "BJ99", "name": "x", "community_code": "C", "length_m": "长"})


def test_admin_draws_and_edits_through_the_api(client, login_as, store):
    body = {"geometry": SQUARE, "properties": {"code": "SC99", "name": "<b>新市场</b>", "community_code": "510322100031",
                                               "stalls": "40"}}
    page = client.get("/").get_data(as_text=True)
    import re
    token = re.search(r'"csrf": "([^"]+)"', page).group(1)
    created = client.post("/api/features/markets", json=body, headers={"X-CSRFToken": token})
    assert created.status_code == 201
    fid = created.get_json()["fid"]
    row = store.read("markets", where={"fid": fid}).iloc[0]
    assert row["stalls"] == 40 and row["name"] == "<b>新市场</b>"
    moved = {"type": "Polygon", "coordinates": [[[x + 0.001, y] for x, y in SQUARE["coordinates"][0]]]}
    resp = client.post(f"/api/features/markets/{fid}", json={"geometry": moved, "properties": {"stalls": "45"}},
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 200
    row = store.read("markets", where={"fid": fid}).iloc[0]
    assert row["stalls"] == 45 and row.geometry.bounds[0] == pytest.approx(104.984)
    audit = store.read("audit", order_by="-at").iloc[0]
    assert audit["action"] == "update" and audit["actor"] == "admin" and '"stalls": 40' in audit["before"]
    form = client.get(f"/api/features/markets/form?fid={fid}").get_json()["html"]
    assert "&lt;b&gt;新市场&lt;/b&gt;" in form and "<b>" not in form
    bad = client.post("/api/features/markets", json={**body, "properties": {**body["properties"], "code": "SC98"},
                                                     "geometry": {"type": "Point", "coordinates": [1, 2]}},
                      headers={"X-CSRFToken": token})
    assert bad.status_code == 422
    assert client.post("/api/features/markets", data="[1,2", content_type="application/json",
                       headers={"X-CSRFToken": token}).status_code == 400
    assert login_as("handler").post("/api/features/markets", json=body).status_code == 403
