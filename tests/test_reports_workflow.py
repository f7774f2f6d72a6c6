"""The rectification workflow (GB/T 30428) over the API and the pages: every transition
kept with who and when, after-photo rules, send back, duplicates, lists, the map popup."""
import datetime as dt
import io
import re

import pytest

from gisapp.reports.common import now

from test_reports_support import (HOUJIE, bearer, csrf_token, photo, point_on_lane, rapp,  # noqa: F401
                                  upload, with_gps)


def new_report(app, category="dumping", lane=0, offset=0.0):
    store = app.extensions["gisapp"]["store"]
    _, lat, lon = point_on_lane(store, lane)
    resp = upload(app.test_client(), bearer(app, "wangge"), [(photo("nikon_d70_no_gps.jpg"), "before.jpg")],
                  lat=str(lat + offset), long=str(lon), position_source="geolocation", accuracy="6", category=category)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["service_request"]["service_request_id"], lat + offset, lon


def act(client, headers, code, action, files=None, **form):
    data = {"action": action, **form}
    if files:
        data["media"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post(f"/api/reports/{code}/actions", data=data, headers=headers, content_type="multipart/form-data")


def test_the_whole_workflow_with_who_and_when(rapp):
    code, lat, lon = new_report(rapp)
    client, handler = rapp.test_client(), bearer(rapp, "handler")
    assert act(client, handler, code, "accept").get_json()["service_request"]["state"] == "accepted"
    dispatched = act(client, handler, code, "dispatch", target=f"community:{HOUJIE}").get_json()
    assert dispatched["service_request"]["agency_responsible"] == HOUJIE
    no_photo = act(client, handler, code, "rectify")
    assert no_photo.status_code == 422 and "整改后照片" in no_photo.get_json()["error"]["message"]
    after = with_gps(photo("nikon_coolpix_p6000_gps.jpg"), lat + 0.0001, lon, when=now() + dt.timedelta(minutes=5))
    rectified = act(client, handler, code, "rectify", [(after, "after.jpg")], note="已清理")
    assert rectified.status_code == 200, rectified.get_json()
    assert [p["kind"] for p in rectified.get_json()["photos"]] == ["before", "after"]
    back = act(client, handler, code, "send_back")
    assert back.status_code == 422 and "原因" in back.get_json()["error"]["message"]
    back = act(client, handler, code, "send_back", note="现场仍有垃圾")
    assert back.get_json()["service_request"]["state"] == "dispatched"
    again = with_gps(photo("iphone6_gps_downscaled.jpg"), lat, lon + 0.0001, when=now() + dt.timedelta(minutes=9))
    assert act(client, handler, code, "rectify", [(again, "after2.jpg")]).status_code == 200
    assert act(client, handler, code, "verify").get_json()["service_request"]["state"] == "verified"
    closed = act(client, handler, code, "close", note="结案").get_json()
    req = closed["service_request"]
    assert req["status"] == "closed" and req["closed_datetime"] and req["assignee"] == "handler"
    steps = [(e["action"], e["from_status"], e["to_status"], e["actor"]) for e in closed["events"]]
    assert steps == [("report", None, "reported", "wangge"), ("accept", "reported", "accepted", "handler"),
                     ("dispatch", "accepted", "dispatched", "handler"), ("rectify", "dispatched", "rectified", "handler"),
                     ("send_back", "rectified", "dispatched", "handler"), ("rectify", "dispatched", "rectified", "handler"),
                     ("verify", "rectified", "verified", "handler"),
                     ("close", "verified", "closed", "handler")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["at"]) for e in closed["events"])
    late = act(client, handler, code, "accept")
    assert late.status_code == 409 and "结案" in late.get_json()["error"]["message"]


def test_after_photos_must_be_later_and_near(rapp):
    code, lat, lon = new_report(rapp)
    client, handler = rapp.test_client(), bearer(rapp, "handler")
    act(client, handler, code, "accept")
    act(client, handler, code, "dispatch", target="unit:县交警大队")
    old = with_gps(photo("nikon_coolpix_p6000_gps.jpg"), lat, lon, when=now() - dt.timedelta(days=1))
    early = act(client, handler, code, "rectify", [(old, "old.jpg")])
    assert early.status_code == 422 and "不晚于上报时间" in early.get_json()["error"]["message"]
    far = with_gps(photo("nikon_coolpix_p6000_gps.jpg"), lat + 0.003, lon, when=now() + dt.timedelta(minutes=1))
    away = act(client, handler, code, "rectify", [(far, "far.jpg")])
    assert away.status_code == 422 and "米" in away.get_json()["error"]["message"]
    no_gps = act(client, handler, code, "rectify", [(photo("nikon_d70_no_gps.jpg"), "x.jpg")])
    assert no_gps.status_code == 422  # camera time 2008: before the report
    # no EXIF time at all: the upload time counts; no EXIF GPS: the phone's location sent with it
    plain = io.BytesIO()
    from PIL import Image
    Image.new("RGB", (64, 48), "gray").save(plain, "JPEG")
    ok = act(client, handler, code, "rectify", [(plain.getvalue(), "plain.jpg")], lat=str(lat), long=str(lon))
    assert ok.status_code == 200 and ok.get_json()["service_request"]["state"] == "rectified"
    assert ok.get_json()["photos"][-1]["taken_at_source"] == "upload"
    store = rapp.extensions["gisapp"]["store"]
    assert store.count("report_photos", where={"report_code": code}) == 2  # refused photos left nothing


def test_roles_for_the_workflow(rapp, login_as):
    code, *_ = new_report(rapp)
    client = rapp.test_client()
    for user in ("wangge", "planner", "leader"):
        assert act(client, bearer(rapp, user), code, "accept").status_code == 403
    page = login_as("viewer").get(f"/reports/{code}").get_data(as_text=True)
    assert code in page and 'data-action="accept"' not in page
    handler = login_as("handler")
    page = handler.get(f"/reports/{code}").get_data(as_text=True)
    assert 'data-action="accept"' in page
    token = csrf_token(handler)
    resp = handler.post(f"/reports/{code}/action", data={"action": "accept", "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/reports/{code}")
    wrong = handler.post(f"/reports/{code}/action", data={"action": "close", "csrf_token": token})
    assert wrong.status_code == 409 and "不能结案" in wrong.get_data(as_text=True)


def test_duplicates_are_merged_or_dismissed(rapp):
    first, lat, lon = new_report(rapp, "sewer", 8)
    dup, *_ = new_report(rapp, "sewer", 8, 0.0001)
    other, *_ = new_report(rapp, "sewer", 8, 0.0002)
    client, handler = rapp.test_client(), bearer(rapp, "handler")
    data = client.get(f"/api/reports/{dup}", headers=handler).get_json()
    assert data["service_request"]["duplicate_of"] == first and "merge" in data["actions"]
    merged = act(client, handler, dup, "merge", note="同一处").get_json()["service_request"]
    assert merged["status"] == "closed" and merged["duplicate_state"] == "merged"
    original = client.get(f"/api/reports/{first}", headers=handler).get_json()
    assert original["events"][-1]["action"] == "merge" and original["events"][-1]["target"] == dup
    assert {d["code"] for d in original["duplicates"]} >= {dup}
    dismissed = act(client, handler, other, "dismiss_duplicate").get_json()["service_request"]
    assert dismissed["status"] == "open" and dismissed["duplicate_state"] == "dismissed"
    assert act(client, handler, other, "merge").status_code == 409


def test_handler_lists_mine_overdue_and_by_community(rapp, login_as):
    code, *_ = new_report(rapp)
    client, handler = rapp.test_client(), bearer(rapp, "handler")
    act(client, handler, code, "accept")
    mine = client.get("/api/reports?view=mine", headers=handler).get_json()
    assert [r["service_request_id"] for r in mine["service_requests"]] == [code]
    overdue = client.get("/api/reports?view=overdue&limit=1000", headers=handler).get_json()
    assert overdue["total"] > 0 and all(r["overdue"] and r["status"] == "open" for r in overdue["service_requests"])
    assert code not in {r["service_request_id"] for r in overdue["service_requests"]}  # due in a week
    store = rapp.extensions["gisapp"]["store"]
    by = {c["code"]: c for c in client.get("/api/reports/communities", headers=handler).get_json()["communities"]}
    assert len(by) == 21 and sum(c["open"] for c in by.values()) == store.count("reports", where={"status": {"!=": "closed"}})
    community = store.read("reports", where={"code": code}).iloc[0]["community_code"]
    listed = client.get(f"/api/reports?status=open&community={community}", headers=handler).get_json()
    assert code in {r["service_request_id"] for r in listed["service_requests"]}
    assert all(r["community_code"] == community for r in listed["service_requests"])
    page = login_as("handler").get("/reports/?view=mine").get_data(as_text=True)
    assert f'data-code="{code}"' in page and "rp-by-community" in page
    services = client.get("/api/reports/services", headers=handler).get_json()["services"]
    assert {s["service_code"] for s in services} >= {"dumping", "wire_charging"}
    assert client.get("/api/reports?view=bogus", headers=handler).status_code == 422


def test_handler_lists_read_one_page_and_match_the_whole_list(rapp):
    from gisapp.auth import get_user
    from gisapp.reports.queries import by_community, list_reports, overdue_mask
    store = rapp.extensions["gisapp"]["store"]
    when = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)
    with store.writer("tester") as w:  # some reports taken by the handler, so that "mine" has a few
        for fid in store.read("reports", where={"status": ["accepted", "dispatched"]}, columns=[], geometry=False).index[:30]:
            w.update("reports", int(fid), {"assignee": "handler"})
    with store.writer("tester") as w:  # some due later, some due earlier; the rest are due a week after being reported
        fids = store.read("reports", where={"status": "reported"}, columns=[], geometry=False).index[:40]
        for i, fid in enumerate(fids):
            w.update("reports", int(fid), {"due_at": "2025-07-01T00:00:00Z" if i % 2 else "2025-05-31T23:59:59Z"})
    every = store.read("reports", columns=["code", "status", "reported_at", "due_at", "assignee", "reporter",
                                            "dispatch_to", "community_code"], geometry=False)
    every = every.assign(_fid=every.index.to_numpy()).sort_values(["reported_at", "_fid"], ascending=False)
    handler = get_user(store, "handler")
    open_ = every["status"].isin(["reported", "accepted", "dispatched", "rectified", "verified"])
    views = {"all": every, "closed": every[every["status"] == "closed"], "open": every[open_],
             "overdue": every[open_ & overdue_mask(every, when)],
             "mine": every[open_ & ((every["assignee"] == "handler") | (every["reporter"] == "handler")).fillna(False)]}
    assert len(views["mine"]) >= 10 and len(views["overdue"]) >= 10
    for view, want in views.items():
        for offset, limit in ((0, 20), (7, 25), (len(want) - 3, 10), (len(want) + 5, 10)):
            page, total = list_reports(store, view, handler, limit=limit, offset=offset, when=when)
            assert total == len(want), view
            assert page["code"].tolist() == want["code"].iloc[offset:offset + limit].tolist(), (view, offset)
            assert page["overdue"].tolist() == overdue_mask(want.iloc[offset:offset + limit], when).tolist()
    assert every["due_at"].notna().sum() == len(fids) >= 6 and len(views["overdue"]) < len(views["open"])
    counted = {c["code"]: c for c in by_community(store, 7, when)}
    for community, rows in every.groupby("community_code"):
        assert counted[community]["open"] == len(views["open"].query("community_code == @community"))
        assert counted[community]["overdue"] == len(views["overdue"].query("community_code == @community"))
        assert counted[community]["closed"] == int((rows["status"] == "closed").sum())


def test_popup_on_the_planner_map_shows_transitions_and_thumbnails(rapp, login_as):
    code, *_ = new_report(rapp)
    client, handler = rapp.test_client(), bearer(rapp, "handler")
    act(client, handler, code, "accept")
    fid = client.get(f"/api/reports/{code}", headers=handler).get_json()["fid"]
    html = login_as("viewer").get(f"/api/map/reports/{fid}/popup").get_json()["html"]
    assert "立案" in html and "上报" in html and "wangge" in html and "handler" in html
    assert re.search(r'<img src="/reports/photo/\d+/thumb"', html) and f'/reports/{code}"' in html


# The permission each field-report endpoint needs (to be merged into tests/test_auth.py's EXPECTED).
REPORT_ENDPOINTS = {
    "reports.new": "report", "reports.index": "read", "reports.detail": "read", "reports.action": "handle",
    "reports.edit": "report", "reports.photo": "read", "reports.import_form": "admin", "reports.import_run": "admin",
    "reports.api_services": "read", "reports.api_list": "read", "reports.api_by_community": "read",
    "reports.api_create": "report", "reports.api_detail": "read", "reports.api_edit": "report",
    "reports.api_action": "handle", "reports.api_add_photos": "report", "reports.api_import": "admin",
    "reports.api_import_run": "admin",
}


@pytest.mark.parametrize("role", [None, "viewer", "field", "handler", "official", "admin"])
def test_report_endpoints_authorization_matrix(rapp, role):
    from conftest import ROLE_USERS, logged_in
    from gisapp import auth
    from gisapp.web.auth import permission_for
    rapp.config["WTF_CSRF_ENABLED"] = False
    client = logged_in(rapp, ROLE_USERS[role]) if role else rapp.test_client()
    rules = [r for r in rapp.url_map.iter_rules() if r.endpoint.startswith("reports.")]
    assert {r.endpoint for r in rules} == set(REPORT_ENDPOINTS)
    wrong = []
    for rule in rules:
        assert permission_for(rapp, rule.endpoint) == REPORT_ENDPOINTS[rule.endpoint], rule.endpoint
        url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", rule.rule)
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        with client.open(url, method=method) as resp:
            assert resp.status_code < 500, (rule.endpoint, resp.status_code)
            refused = resp.status_code in (401, 403) or (resp.status_code == 302 and "/login" in resp.headers["Location"])
        allowed = role is not None and REPORT_ENDPOINTS[rule.endpoint] in auth.PERMISSIONS[role]
        if allowed == refused:
            wrong.append((rule.endpoint, method, resp.status_code))
    assert wrong == []
