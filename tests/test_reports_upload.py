"""Uploading field reports over HTTP: real photos, assignment on arrival, refusals,
no orphans on failure, concurrent uploads from threads and processes, duplicates."""
import io
import multiprocessing
import os
import sqlite3
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from test_reports_support import (bearer, csrf_token, files_under, killed_upload, photo, point_on_lane,  # noqa: F401
                                  rapp, upload, upload_worker, with_gps)


def test_photo_with_gps_inside_is_accepted_and_assigned(rapp, login_as):
    store = rapp.extensions["gisapp"]["store"]
    lane, lat, lon = point_on_lane(store, 3, 0.4)
    data = with_gps(photo("iphone6_gps_downscaled.jpg"), lat, lon)
    resp = upload(rapp.test_client(), bearer(rapp, "wangge"), [(data, "iphone.jpg")], description="巷口堆放垃圾")
    assert resp.status_code == 201, resp.get_json()
    req = resp.get_json()["service_request"]
    assert req["position_source"] == "exif" and req["lat"] == pytest.approx(lat, abs=1e-6)
    assert req["community_code"] == lane["community_code"] and req["lane_code"] == lane["code"]
    grid = store.read("grid_cells", where={"code": req["grid_code"]})
    assert len(grid) == 1 and grid.geometry.iloc[0].covers(store.read("reports", where={"code": req["service_request_id"]}).geometry.iloc[0])
    assert req["service_code"] == "dumping" and req["status"] == "open" and req["reporter"] == "wangge"
    row = store.read("reports", where={"code": req["service_request_id"]}).iloc[0]
    assert row["status"] == "reported" and row["source"] == "field" and row["lane_distance_m"] < 1
    photos = store.read("report_photos", where={"report_code": req["service_request_id"]})
    assert photos.iloc[0]["exif_lat"] == pytest.approx(lat, abs=1e-6) and photos.iloc[0]["kind"] == "before"
    # the files: original private (with GPS), display copy and thumbnail without EXIF, none under static/
    folder = rapp.config["REPORT_UPLOADS"]
    assert len(files_under(folder)) == 3 and "static" not in folder
    with rapp.test_client().get(resp.get_json()["photos"][0]["media_url"], headers=bearer(rapp, "planner")) as display:
        assert display.status_code == 200 and not Image.open(io.BytesIO(display.data)).getexif()
    original = f"/reports/photo/{resp.get_json()['photos'][0]['id']}/original"
    assert login_as("viewer").get(original).status_code == 403
    with login_as("handler").get(original) as got:
        assert got.data == data


def test_photo_without_gps_falls_back_to_geolocation_and_map(rapp):
    client, headers = rapp.test_client(), bearer(rapp, "wangge")
    store = rapp.extensions["gisapp"]["store"]
    _, lat, lon = point_on_lane(store, 5)
    geo = upload(client, headers, [(photo("nikon_d70_no_gps.jpg"), "d70.jpg")], lat=str(lat), long=str(lon),
                 position_source="geolocation", accuracy="8.5")
    assert geo.status_code == 201 and geo.get_json()["service_request"]["position_source"] == "geolocation"
    assert geo.get_json()["service_request"]["accuracy_m"] == 8.5
    tap = upload(client, headers, [(photo("orientation_6_no_gps.jpg"), "o6.jpg")], lat=str(lat), long=str(lon),
                 position_source="map", category="graffiti")
    assert tap.status_code == 201 and tap.get_json()["service_request"]["position_source"] == "map"
    nothing = upload(client, headers, [(photo("nikon_d70_no_gps.jpg"), "d70.jpg")])
    assert nothing.status_code == 422 and "没有位置" in nothing.get_json()["error"]["message"]


def test_geolocation_wins_over_exif(rapp):
    store = rapp.extensions["gisapp"]["store"]
    _, lat, lon = point_on_lane(store, 2)
    data = with_gps(photo("nikon_coolpix_p6000_gps.jpg"), lat + 0.001, lon)
    resp = upload(rapp.test_client(), bearer(rapp, "wangge"), [(data, "n.jpg")], lat=str(lat), long=str(lon),
                  position_source="geolocation", accuracy="20")
    assert resp.get_json()["service_request"]["lat"] == pytest.approx(lat, abs=1e-7)


def test_positions_outside_the_subdistrict_are_refused(rapp):
    client, headers = rapp.test_client(), bearer(rapp, "wangge")
    italy = upload(client, headers, [(photo("nikon_coolpix_p6000_gps.jpg"), "italy.jpg")])  # real EXIF: Italy
    body = italy.get_json()["error"]
    assert italy.status_code == 422 and body["code"] == "invalid" and "不在富世街道范围内" in body["message"]
    en = client.post("/api/reports?lang=en", headers=headers, content_type="multipart/form-data",
                     data={"category": "other", "lat": "29.30", "long": "104.98", "position_source": "map",
                           "media": [(io.BytesIO(photo("nikon_d70_no_gps.jpg")), "x.jpg")]})
    assert en.status_code == 422 and "outside" in en.get_json()["error"]["message"]
    assert rapp.extensions["gisapp"]["store"].count("report_photos") == 0
    assert files_under(rapp.config["REPORT_UPLOADS"]) == []


def _bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("content, name, status, words", [
    (lambda: photo("nikon_coolpix_p6000_gps.jpg")[:90_000], "cut.jpg", 400, "损坏或不完整"),
    (lambda: "这是一个文本文件，不是照片。\n".encode() * 40, "readme.jpg", 415, "不是图片"),
    (_bomb, "bomb.png", 400, "解压炸弹"),
    (lambda: b"%PDF-1.4\n" + b"0" * 2000, "scan.jpg", 415, "不是图片"),
])
def test_bad_images_are_refused_and_nothing_is_written(rapp, content, name, status, words):
    store = rapp.extensions["gisapp"]["store"]
    headers = bearer(rapp, "wangge")
    before = store.count("reports"), store.count("audit")
    _, lat, lon = point_on_lane(store)
    resp = upload(rapp.test_client(), headers, [(photo("nikon_d70_no_gps.jpg"), "ok.jpg"), (content(), name)],
                  lat=str(lat), long=str(lon), position_source="map")
    assert resp.status_code == status and words in resp.get_json()["error"]["message"] and name in resp.get_json()["error"]["message"]
    assert (store.count("reports"), store.count("audit")) == before
    assert files_under(rapp.config["REPORT_UPLOADS"]) == []


def test_oversize_photos_and_too_many_photos_are_refused(rapp):
    store = rapp.extensions["gisapp"]["store"]
    _, lat, lon = point_on_lane(store)
    form = dict(lat=str(lat), long=str(lon), position_source="map")
    rapp.config["REPORT_MAX_PHOTO_MB"] = 0.1
    big = upload(rapp.test_client(), bearer(rapp, "wangge"), [(photo("nikon_coolpix_p6000_gps.jpg"), "big.jpg")], **form)
    assert big.status_code == 413 and "过大" in big.get_json()["error"]["message"]
    rapp.config["REPORT_MAX_PHOTO_MB"] = 15
    many = upload(rapp.test_client(), bearer(rapp, "wangge"), [(photo("nikon_d70_no_gps.jpg"), f"{i}.jpg") for i in range(7)], **form)
    assert many.status_code == 422 and "最多 6 张" in many.get_json()["error"]["message"]
    none = upload(rapp.test_client(), bearer(rapp, "wangge"), [], **form)
    assert none.status_code == 422 and "至少" in none.get_json()["error"]["message"]


def database_refuses_photo_rows(database, on: bool) -> None:
    """A trigger that makes the database refuse photo rows (a real failure inside the transaction)."""
    if isinstance(database, Path):
        with sqlite3.connect(database) as db:
            db.execute("CREATE TRIGGER fail_photos BEFORE INSERT ON report_photos BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                       if on else "DROP TRIGGER fail_photos")
        return
    import psycopg
    with psycopg.connect(database, autocommit=True) as db:
        if on:
            db.execute("CREATE FUNCTION fail_photos() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$")
            db.execute("CREATE TRIGGER fail_photos BEFORE INSERT ON report_photos FOR EACH ROW EXECUTE FUNCTION fail_photos()")
        else:
            db.execute("DROP TRIGGER fail_photos ON report_photos")


def test_a_failed_write_leaves_no_record_and_no_file(rapp, demo_copy):
    store = rapp.extensions["gisapp"]["store"]
    _, lat, lon = point_on_lane(store)
    form = dict(lat=str(lat), long=str(lon), position_source="map")
    headers = bearer(rapp, "wangge")
    before = store.count("reports"), store.count("report_events"), store.count("audit")
    database_refuses_photo_rows(demo_copy, True)  # after the report row went in
    resp = upload(rapp.test_client(), headers, [(photo("nikon_d70_no_gps.jpg"), "a.jpg")] * 2, **form)
    assert 400 <= resp.status_code < 600
    assert (store.count("reports"), store.count("report_events"), store.count("audit")) == before
    assert files_under(rapp.config["REPORT_UPLOADS"]) == []
    database_refuses_photo_rows(demo_copy, False)
    # the files cannot be moved into place: the committed rows are taken back
    blocker = rapp.config["REPORT_UPLOADS"] + "/display"
    open(blocker, "w").close()
    resp = upload(rapp.test_client(), headers, [(photo("nikon_d70_no_gps.jpg"), "a.jpg")], **form)
    assert resp.status_code == 500
    assert (store.count("reports"), store.count("report_photos"), store.count("report_events")) == (before[0], 0, before[1])
    assert [p.name for p in files_under(rapp.config["REPORT_UPLOADS"])] == ["display"]


def test_concurrent_uploads_from_threads_lose_nothing(rapp):
    store = rapp.extensions["gisapp"]["store"]
    _, lat, lon = point_on_lane(store, 4)
    headers = bearer(rapp, "wangge")
    data = photo("nikon_d70_no_gps.jpg")
    codes, errors = [], []

    def work(i):
        client = rapp.test_client()
        for j in range(4):
            resp = upload(client, headers, [(data, f"t{i}-{j}.jpg")], lat=str(lat + 0.0003 * j), long=str(lon),
                          position_source="geolocation", category=["other", "graffiti", "flyers", "sewer"][i])
            (codes if resp.status_code == 201 else errors).append(
                resp.get_json()["service_request"]["service_request_id"] if resp.status_code == 201 else resp.get_data(as_text=True))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(codes)) == 16
    assert set(store.read("reports", where={"code": codes})["code"]) == set(codes)
    assert store.count("report_photos", where={"report_code": codes}) == 16
    assert len(files_under(rapp.config["REPORT_UPLOADS"])) == 16 * 3


def test_concurrent_uploads_from_processes_lose_nothing(rapp, demo_copy, tmp_path):
    photo("nikon_d70_no_gps.jpg")  # the workers read it: skip here when the shared photos are absent
    store = rapp.extensions["gisapp"]["store"]
    store.checkpoint()
    _, lat, lon = point_on_lane(store, 6)
    uploads = rapp.config["REPORT_UPLOADS"]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        results = [pool.apply_async(upload_worker, (str(demo_copy), uploads, 4, seed, lat, lon)) for seed in range(3)]
        codes = [c for r in results for c in r.get(timeout=300)]
    assert len(set(codes)) == 12
    assert store.count("reports", where={"code": codes}) == 12
    assert store.count("report_photos", where={"report_code": codes}) == 12
    assert len(files_under(uploads)) == 36


def test_uploads_of_killed_processes_are_finished_or_undone_at_start_up(rapp, demo_copy):
    """SIGKILL before the commit leaves staged files only; after the commit, rows whose files are
    still staged. The next start-up removes the first and moves the second into place."""
    from gisapp import create_app
    from gisapp.reports.files import PhotoFiles
    photo("nikon_d70_no_gps.jpg")  # the children read it: skip here when the shared photos are absent
    store = rapp.extensions["gisapp"]["store"]
    store.checkpoint()
    _, lat, lon = point_on_lane(store, 3)
    uploads = rapp.config["REPORT_UPLOADS"]
    ctx = multiprocessing.get_context("spawn")
    staged = {}
    for moment in ("in_transaction", "after_commit"):  # the second process's start-up cleans up after the first
        proc = ctx.Process(target=killed_upload, args=(str(demo_copy), uploads, lat, lon, moment, f"killed {moment}"))
        proc.start()
        proc.join(300)
        assert proc.exitcode == -9, moment
        staged[moment] = files_under(Path(uploads) / ".tmp")
        assert len(staged[moment]) == 6 and files_under(uploads) == staged[moment]  # 2 photos x 3 files, unpublished
    assert not set(staged["in_transaction"]) & set(staged["after_commit"])
    assert store.count("reports", where={"description": "killed in_transaction"}) == 0
    code = store.read("reports", where={"description": "killed after_commit"}, geometry=False)["code"].tolist()
    rows = store.read("report_photos", where={"report_code": code}, geometry=False)
    assert len(code) == 1 and len(rows) == 2
    live = PhotoFiles(uploads)
    in_progress = live.stage([a_photo()])  # an upload of this (live) process, staged meanwhile
    create_app({"DATABASE": str(demo_copy), "TESTING": True, "REPORT_UPLOADS": uploads,
                "LOAD_DEMO": False}).extensions["gisapp"]["store"].close()  # a new worker starts
    expected = {Path(uploads) / r[c] for r in rows.to_dict("records") for c in ("original_path", "display_path", "thumb_path")}
    assert set(files_under(uploads)) == expected | set(in_progress[0].temps.values())
    live.discard(in_progress)
    assert set(files_under(uploads)) == expected
    photo_id = int(rows.index[0])
    with rapp.test_client().get(f"/reports/photo/{photo_id}/thumb", headers=bearer(rapp, "wangge")) as resp:
        assert resp.status_code == 200 and resp.mimetype == "image/jpeg"


def test_recover_publishes_committed_files_of_dead_uploads_and_removes_the_rest(tmp_path):
    from gisapp.reports.files import PhotoFiles
    files = PhotoFiles(tmp_path / "uploads")
    dead = files.stage([a_photo(), a_photo()])
    os.close(dead[0].lease.fd)  # the process dies: the kernel drops its lock, nothing is cleaned up
    dead[0].lease.fd = None
    committed = set(dead[0].paths.values())  # the first photo's row committed, the second's did not
    live = files.stage([a_photo()])
    asked = []
    done = files.recover(lambda paths: asked.append(paths) or committed & set(paths))
    assert done == {"published": 3, "removed": 3} and sorted(asked[0]) == sorted(committed | set(dead[1].paths.values()))
    assert all((files.root / p).is_file() for p in committed)
    assert not any((files.root / p).exists() for p in dead[1].paths.values())
    assert list((files.root / ".tmp").iterdir()) == [live[0].lease.folder]  # the live upload is untouched
    files.publish(live)
    assert list((files.root / ".tmp").iterdir()) == [] and all((files.root / p).is_file() for p in live[0].paths.values())


def test_workers_starting_never_take_the_files_of_uploads_in_progress(tmp_path):
    """recover() (a worker starting) racing stage → publish (uploads): every upload completes
    (the benchmark once met a 500 here when staged files, not directories, were locked)."""
    from gisapp.reports.files import PhotoFiles
    files, photo_ = PhotoFiles(tmp_path / "uploads"), a_photo()
    errors, published, done = [], [], threading.Event()

    def uploads():
        try:
            for _ in range(200):
                staged = files.stage([photo_])
                files.publish(staged)
                published.extend(staged[0].paths.values())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()

    def workers_starting():
        while not done.is_set():
            files.recover(lambda paths: set())

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=uploads)] + [threading.Thread(target=workers_starting) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and len(published) == 600
    assert all((files.root / p).is_file() for p in published) and list((files.root / ".tmp").iterdir()) == []


def a_photo():
    from gisapp.reports.images import process
    return process(photo("nikon_d70_no_gps.jpg"), "live.jpg", 15_000_000, 40_000_000, 8)


def test_session_uploads_need_the_csrf_token_and_the_right_role(rapp, login_as):
    store = rapp.extensions["gisapp"]["store"]
    _, lat, lon = point_on_lane(store)
    form = dict(lat=str(lat), long=str(lon), position_source="map")
    field = login_as("field")
    files = [(photo("nikon_d70_no_gps.jpg"), "a.jpg")]
    assert upload(field, {}, files, **form).status_code == 403  # no CSRF token
    ok = upload(field, {"X-CSRFToken": csrf_token(field)}, files, **form)
    assert ok.status_code == 201
    viewer = login_as("viewer")
    assert upload(viewer, {"X-CSRFToken": csrf_token(viewer)}, files, **form).status_code == 403
    assert upload(rapp.test_client(), {}, files, **form).status_code in (401, 403)  # CSRF is checked first
    assert login_as("field").get("/reports/new").status_code == 200
    assert login_as("handler").get("/reports/new").status_code == 403


def test_same_category_nearby_within_a_week_is_flagged_as_duplicate(rapp):
    store = rapp.extensions["gisapp"]["store"]
    client, headers = rapp.test_client(), bearer(rapp, "wangge")
    _, lat, lon = point_on_lane(store, 7)
    form = dict(long=str(lon), position_source="map")
    files = [(photo("nikon_d70_no_gps.jpg"), "a.jpg")]
    first = upload(client, headers, files, lat=str(lat), category="flyers", **form).get_json()["service_request"]
    near = upload(client, headers, files, lat=str(lat + 0.0002), category="flyers", **form).get_json()["service_request"]
    other = upload(client, headers, files, lat=str(lat + 0.0002), category="graffiti", **form).get_json()["service_request"]
    far = upload(client, headers, files, lat=str(lat + 0.0006), category="flyers", **form).get_json()["service_request"]
    assert first["duplicate_of"] is None and near["duplicate_of"] == first["service_request_id"]
    assert near["duplicate_state"] == "suspected" and other["duplicate_of"] is None and far["duplicate_of"] is None
    events = store.read("report_events", where={"report_code": near["service_request_id"]})
    assert events["action"].tolist() == ["report", "flag_duplicate"] and events["target"].iloc[1] == first["service_request_id"]


def test_field_staff_edit_their_own_open_reports_only(rapp):
    store = rapp.extensions["gisapp"]["store"]
    _, lat, lon = point_on_lane(store)
    mine = upload(rapp.test_client(), bearer(rapp, "wangge"), [(photo("nikon_d70_no_gps.jpg"), "a.jpg")],
                  lat=str(lat), long=str(lon), position_source="map").get_json()["service_request"]["service_request_id"]
    client, headers = rapp.test_client(), bearer(rapp, "wangge")
    ok = client.patch(f"/api/reports/{mine}", json={"description": "改：堆放装修垃圾", "category": "illegal_structure"}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["service_request"]["service_code"] == "illegal_structure"
    assert ok.get_json()["events"][-1]["action"] == "edit"
    more = client.post(f"/api/reports/{mine}/photos", headers=headers, content_type="multipart/form-data",
                       data={"media": [(io.BytesIO(photo("orientation_6_no_gps.jpg")), "b.jpg")]})
    assert more.status_code == 201 and len(more.get_json()["photos"]) == 2
    demo_open = store.read("reports", where={"source": "field", "status": "reported"}).iloc[0]["code"]
    refused = client.patch(f"/api/reports/{demo_open}", json={"description": "x"}, headers=headers)
    assert refused.status_code == 403


def test_heic_photo_from_an_iphone_is_accepted_with_its_position(rapp, login_as):
    from test_reports_exif import _heic
    store = rapp.extensions["gisapp"]["store"]
    lane, lat, lon = point_on_lane(store, 4, 0.5)
    data = _heic(with_gps(photo("iphone6_gps_downscaled.jpg"), lat, lon))
    resp = upload(rapp.test_client(), bearer(rapp, "wangge"), [(data, "IMG_0001.HEIC")], description="iPhone")
    assert resp.status_code == 201, resp.get_json()
    req = resp.get_json()["service_request"]
    assert req["position_source"] == "exif" and req["lat"] == pytest.approx(lat, abs=1e-6)
    assert req["lane_code"] == lane["code"]
    with rapp.test_client().get(resp.get_json()["photos"][0]["media_url"], headers=bearer(rapp, "planner")) as shown:
        assert shown.mimetype == "image/jpeg" and Image.open(io.BytesIO(shown.data)).format == "JPEG"
    with login_as("handler").get(f"/reports/photo/{resp.get_json()['photos'][0]['id']}/original") as got:
        assert got.data == data and got.mimetype == "image/heic"


def test_a_retried_upload_is_stored_once(rapp):
    """The phone retries when the answer was lost: the same client_key gives the same report."""
    store = rapp.extensions["gisapp"]["store"]
    _, lat, lon = point_on_lane(store, 2, 0.3)
    folder = rapp.config["REPORT_UPLOADS"]
    data = photo("nikon_d70_no_gps.jpg")
    form = dict(lat=str(lat), long=str(lon), position_source="map", client_key="3f2b9c1e-draft-0001")

    def send(user="wangge", **extra):
        return upload(rapp.test_client(), bearer(rapp, user), [(data, "a.jpg")], **{**form, **extra})
    first, again = send(), send()
    assert first.status_code == again.status_code == 201
    code = first.get_json()["service_request"]["service_request_id"]
    assert again.get_json()["service_request"]["service_request_id"] == code
    assert len(store.read("reports", where={"client_key": form["client_key"]})) == 1
    assert len(store.read("report_photos", where={"report_code": code})) == 1 and len(files_under(folder)) == 3
    other = send("admin")  # the key is the sender's own: another user's report is another report
    assert other.get_json()["service_request"]["service_request_id"] != code
    # two copies arriving at the same moment: still one report, and no file left from the loser
    results = []
    threads = [threading.Thread(target=lambda: results.append(send(client_key="race-key-000042"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in results} == {201}
    assert len({r.get_json()["service_request"]["service_request_id"] for r in results}) == 1
    assert len(store.read("reports", where={"client_key": "race-key-000042"})) == 1
    assert len(files_under(folder)) == 3 * 3
    bad = send(client_key="../../etc")
    assert bad.status_code == 422 and "client_key" in bad.get_json()["error"]["message"]
