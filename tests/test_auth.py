"""Accounts, roles and the access rule: an authorization matrix over every route, log-in, tokens, public view."""
import re
import subprocess
import sys

import pytest

from gisapp import auth
from gisapp.web.auth import permission_for

from conftest import DEMO_PASSWORD, ROLE_USERS, logged_in

# Every endpoint and the permission it needs. A new route fails test_every_route_is_in_the_matrix
# until it is added here, so no route can be forgotten.
EXPECTED = {
    "static": "public", "auth.login": "public", "auth.logout": "public", "api.health": "public",
    "map.index": "read", "api.figures": "read", "api.layers": "read", "api.map_layer": "read",
    "api.map_popup": "read", "api.search_features": "read", "api.dashboard_json": "read",
    "exports.openapi_json": "read", "exports.export": "export",
    "ogcapi.landing": "read", "ogcapi.conformance": "read", "ogcapi.collections": "read",
    "ogcapi.collection": "read", "ogcapi.items": "read", "ogcapi.item": "read", "ogcapi.unknown": "read",
    "snapshots.index": "snapshot", "snapshots.area": "snapshot", "snapshots.atlas": "snapshot",
    "snapshots.areas_json": "snapshot",
    "admin.index": "admin", "admin.audit": "admin", "admin.audit_csv": "admin", "admin.users": "admin",
    "ledger.page": "read", "ledger.export": "read", "ledger.import_ledger": "progress",
    "ledger.add_progress": "progress", "ledger.progress_photo": "read", "ledger.quality_page": "read",
    "ledger.quality_json": "read",
    "editing.form": "admin", "editing.create": "admin", "editing.update": "admin",
    "reports.index": "read", "reports.detail": "read", "reports.photo": "read", "reports.new": "report",
    "reports.edit": "report", "reports.action": "handle", "reports.import_form": "admin", "reports.import_run": "admin",
    "reports.api_list": "read", "reports.api_detail": "read", "reports.api_services": "read",
    "reports.api_by_community": "read", "reports.api_create": "report", "reports.api_edit": "report",
    "reports.api_add_photos": "report", "reports.api_action": "handle", "reports.api_import": "admin",
    "reports.api_import_run": "admin",
}
SAMPLE = {"layer_id": "back_lanes", "fid": "1", "cid": "back_lanes", "name": "back_lanes.geojson",
          "kind": "community", "key": "510322100031", "layer": "back_lanes", "filename": "gisapp.css",
          "rest": "nothing-here", "code": "NOPE-1", "photo_id": "1", "variant": "thumb", "token": "abc"}
WHO = [None, *ROLE_USERS]


def rules(app):
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLE.get(m.group(1), "1"), rule.rule)
        yield rule.endpoint, url, sorted(rule.methods - {"HEAD", "OPTIONS"})


def test_every_route_is_in_the_matrix(app):
    assert {endpoint for endpoint, *_ in rules(app)} == set(EXPECTED)
    for endpoint in EXPECTED:
        assert permission_for(app, endpoint) == EXPECTED[endpoint], endpoint


def refused(resp) -> bool:
    if resp.status_code in (401, 403):
        return True
    return resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("role", WHO)
def test_authorization_matrix(app, role):
    client = logged_in(app, ROLE_USERS[role]) if role else app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False  # the matrix is about roles; CSRF has its own test
    cells = []
    for endpoint, url, methods in rules(app):
        if endpoint in ("auth.logout", "snapshots.atlas"):
            continue  # logging out would end the session; atlases are slow: checked below with HEAD rights
        needed = EXPECTED[endpoint]
        allowed = needed == "public" or (role is not None and needed in auth.PERMISSIONS[role])
        resp = client.open(url, method="GET" if "GET" in methods else methods[0])
        cells.append((endpoint, allowed, refused(resp)))
        resp.close()
        assert resp.status_code < 500, (endpoint, url, resp.status_code)
    wrong = [(e, "allowed" if a else "refused") for e, a, r in cells if a == r]
    assert wrong == []


def test_login_form_with_csrf_rate_limit_and_safe_redirect(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    no_token = client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD})
    assert no_token.status_code == 403 and "表单已过期" in no_token.get_data(as_text=True)
    bad = client.post("/login", data={"username": "admin", "password": "nope", "csrf_token": token})
    assert bad.status_code == 401 and "用户名或密码错误" in bad.get_data(as_text=True)
    ok = client.post("/login?next=//evil.example/x", data={"username": "admin", "password": DEMO_PASSWORD,
                                                          "csrf_token": token})
    assert ok.status_code == 302 and ok.headers["Location"] == "/"
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/api/figures").status_code == 200
    other = app.test_client()
    token2 = re.search(r'value="([^"]+)"', other.get("/login").get_data(as_text=True)).group(1)
    for _ in range(auth.MAX_FAILURES):
        other.post("/login", data={"username": "planner", "password": "wrong", "csrf_token": token2})
    locked = other.post("/login", data={"username": "planner", "password": DEMO_PASSWORD, "csrf_token": token2})
    assert locked.status_code == 429 and "10 分钟" in locked.get_data(as_text=True)
    attempts = app.extensions["gisapp"]["store"].read("login_attempts")
    assert (attempts["ok"] == 0).sum() >= auth.MAX_FAILURES + 1


def test_logout_needs_csrf_and_ends_the_session(app):
    client = logged_in(app, "admin")
    assert client.post("/logout").status_code == 403
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/figures").status_code == 401


def test_api_tokens(app):
    store = app.extensions["gisapp"]["store"]
    token = auth.create_token(store, "leader", "phone app", "admin")
    client = app.test_client()
    ok = client.get("/api/figures", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    bad = client.get("/api/figures", headers={"Authorization": "Bearer gis_nope"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "unauthorized"
    assert token not in str(store.read("api_tokens").to_dict())  # only the hash is kept


def test_token_lookups_are_cached_and_a_revoked_token_is_refused_at_once(app, monkeypatch):
    store = app.extensions["gisapp"]["store"]
    token = auth.create_token(store, "wangge", "phone", "admin")
    other = auth.create_token(store, "wangge", "tablet", "admin")
    headers = {"Authorization": f"Bearer {token}"}
    lookups = []
    real = auth.user_for_token
    monkeypatch.setattr(auth, "user_for_token", lambda s, t: lookups.append(t) or real(s, t))
    client = app.test_client()
    assert client.get("/api/figures", headers=headers).status_code == 200
    assert client.get("/api/figures", headers=headers).status_code == 200
    assert lookups == [token]  # the second request was answered from the cache
    assert auth.revoke_token(store, token, "admin")
    refused = client.get("/api/figures", headers=headers)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/api/figures", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    # a disabled user's other tokens stop too
    fid = int(store.read("users", where={"username": "wangge"}, geometry=False).index[0])
    with store.writer("admin") as w:
        w.update("users", fid, {"active": False})
    assert client.get("/api/figures", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    assert auth.revoke_tokens(store, "wangge", "admin") == 1 and store.count("api_tokens", where={"username": "wangge"}) == 0
    assert store.read("audit").iloc[-1]["action"] == "delete"  # revocations are in the audit trail


def test_token_cache_entries_expire_when_the_store_changes_behind_its_back(app, monkeypatch):
    """A change that does not move the data version (a restore, SQL by hand) shows after the TTL."""
    import gisapp.web.auth as web_auth
    store = app.extensions["gisapp"]["store"]
    token = auth.create_token(store, "leader", "phone", "admin")
    headers = {"Authorization": f"Bearer {token}"}
    monkeypatch.setattr(store, "data_version", lambda: 0)  # the store "forgets" to bump its version
    clock = [1000.0]
    app.extensions["gisapp_tokens"].clock = lambda: clock[0]
    client = app.test_client()
    assert client.get("/api/figures", headers=headers).status_code == 200
    auth.revoke_token(store, token, "admin")
    assert client.get("/api/figures", headers=headers).status_code == 200  # still cached
    clock[0] += web_auth.TOKEN_CACHE_TTL_S + 1
    assert client.get("/api/figures", headers=headers).status_code == 401


def test_cli_revokes_tokens(tmp_path):
    db = tmp_path / "prod.gpkg"
    env = {"GISAPP_DATABASE": str(db), "GISAPP_LOAD_DEMO": "false", "PATH": "/usr/bin:/bin"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "gisapp", *args], env=env, capture_output=True, text=True)  # noqa: E731
    assert run("create-user", "chief", "--role", "admin", "--password", "s3cret-pass").returncode == 0
    token = run("create-token", "chief", "--label", "phone").stdout.strip()
    run("create-token", "chief", "--label", "laptop")
    out = run("revoke-token", "chief", "--label", "phone")
    assert out.returncode == 0 and "revoked 1 token of chief" in out.stdout
    from gisapp import create_app
    app = create_app({"DATABASE": str(db), "LOAD_DEMO": False, "TESTING": True})
    assert app.test_client().get("/api/figures", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "revoked 1 token" in run("revoke-token", "chief").stdout
    app.extensions["gisapp"]["store"].close()


def test_public_view_shows_public_layers_without_personal_data(app):
    app.config["PUBLIC_VIEW"] = True
    anon = app.test_client()
    page = anon.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "\\u505c\\u8f66\\u4f4d" not in html and "\\u95ee\\u9898\\u4e0a\\u62a5" not in html  # 停车位, 问题上报
    lanes = anon.get("/api/map/back_lanes.geojson").get_json()["features"]
    popup = anon.get(f"/api/map/back_lanes/{lanes[0]['id']}/popup").get_json()["html"]
    assert "路管家" not in popup
    staff = logged_in(app, "planner").get(f"/api/map/back_lanes/{lanes[0]['id']}/popup").get_json()["html"]
    assert "路管家" in staff
    for url in ("/api/map/reports.geojson", "/api/map/parking_spaces.geojson", "/api/figures", "/api/layers",
                "/ogcapi/collections"):
        assert anon.get(url).status_code in (401, 404), url
    assert all(r["layer"] != "parking_spaces" for r in anon.get("/api/search?q=车位").get_json()["results"])
    app.config["PUBLIC_VIEW"] = False
    assert anon.get("/").status_code == 302


def test_bad_accounts_are_refused(store):
    from gisapp.errors import Conflict, ValidationFailed
    with pytest.raises(ValidationFailed):
        auth.create_user(store, "x", "short", "viewer", "admin")
    with pytest.raises(ValidationFailed):
        auth.create_user(store, "bad name!", "long-enough", "viewer", "admin")
    with pytest.raises(ValidationFailed):
        auth.create_user(store, "newuser", "long-enough", "king", "admin")
    with pytest.raises(Conflict):
        auth.create_user(store, "admin", "long-enough", "viewer", "admin")
    assert auth.authenticate(store, "admin", DEMO_PASSWORD).role == "admin"
    assert auth.authenticate(store, "ghost", DEMO_PASSWORD) is None


def test_cli_creates_the_first_admin(tmp_path):
    db = tmp_path / "prod.gpkg"
    env = {"GISAPP_DATABASE": str(db), "GISAPP_LOAD_DEMO": "false", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "gisapp", "create-user", "chief", "--role", "admin",
                           "--password", "s3cret-pass"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    from gisapp.registry import load_registry
    from gisapp.storage import open_store
    from conftest import LAYERS
    store = open_store(str(db), load_registry(LAYERS))
    assert auth.authenticate(store, "chief", "s3cret-pass").role == "admin"
    audit = store.read("audit")
    assert audit.iloc[-1]["target_table"] == "users" and audit.iloc[-1]["actor"].startswith("cli")
    again = subprocess.run([sys.executable, "-m", "gisapp", "create-user", "chief", "--role", "admin",
                            "--password", "s3cret-pass"], env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
