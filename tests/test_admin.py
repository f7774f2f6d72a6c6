"""Admins browse and export the audit trail and manage accounts."""
import csv
import io
import re

import geopandas as gpd
import shapely


def test_audit_page_filters_and_escapes(client, store):
    evil = "<script>alert('x')</script>"
    with store.writer("mallory", "10.0.0.9") as w:
        w.insert("markets", gpd.GeoDataFrame({"code": ["E1"], "name": [evil], "community_code": ["C"]},
                                             geometry=[shapely.box(104.98, 29.18, 104.981, 29.181)], crs=4326))
    page = client.get("/admin/audit?actor=mallory")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "mallory" in html and "10.0.0.9" in html
    assert "<script>alert" not in html
    assert re.search(r"\((\d+)\)", html).group(1) == "1"
    bad = client.get("/admin/audit?from=yesterday")
    assert bad.status_code == 400


def test_audit_csv_opens_in_excel_and_defuses_formulas(client, store):
    with store.writer("=HYPERLINK(\"http://x\")") as w:
        w.audit("note", None, None, "+cmd|' /C calc'!A0")
    body = client.get("/admin/audit.csv").get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body[1:])))
    assert rows[0]["actor"].startswith("'=") and rows[0]["summary"].startswith("'+")
    assert len(rows) == store.count("audit")
    assert any(r["actor"] == "demo-loader" for r in rows)


def test_users_page_creates_accounts_with_csrf(client, store, login_as):
    page = client.get("/admin/users").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/admin/users", data={"username": "zhao.li", "password": "long-enough-1", "role": "handler",
                                              "unit": "510322100031", "csrf_token": token})
    assert resp.status_code == 200 and "zhao.li" in resp.get_data(as_text=True)
    assert store.read("users", where={"username": "zhao.li"}).iloc[0]["unit"] == "510322100031"
    assert store.read("audit").iloc[-1]["actor"] == "admin"
    short = client.post("/admin/users", data={"username": "x.y", "password": "short", "role": "viewer",
                                              "csrf_token": token})
    assert short.status_code == 422 and "密码至少" in short.get_data(as_text=True)
    assert login_as("viewer").get("/admin/users").status_code == 403
