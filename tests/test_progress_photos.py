"""Photos on progress records: real photos posted with a record from the map's form, written
with it or not at all, shown in the popup history to staff only, refused clearly when broken."""
import datetime as dt
import io
import multiprocessing
import re
import sqlite3
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from PIL import Image

from gisapp import auth, create_app
from gisapp.progress_entry import add_record
from gisapp.storage import open_store

from conftest import logged_in, pg_server
from test_reports_support import bearer, files_under, photo, rapp  # noqa: F401

TABLE = "progress_photos"


def csrf(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)


def lane(store, index: int = 0) -> tuple[int, str]:
    lanes = store.read("back_lanes", columns=["code"], geometry=False)
    return int(lanes.index[index]), str(lanes.iloc[index]["code"])


def record_form(store, code: str, **change) -> dict:
    """A valid record for the lane: today, its latest status (never backwards), a note."""
    latest = store.read("progress", where={"layer": "back_lanes", "feature_code": code}, order_by="record_date")
    status = latest.iloc[-1]["status"] if len(latest) else "in_progress"
    return {"record_date": dt.date.today().isoformat(), "status": status, "percent": "100", "note": "现场照片", **change}


def post(client, fid: int, form: dict, files: list[tuple[bytes, str]], query: str = ""):
    data = {**form, "photos": [(io.BytesIO(content), name) for content, name in files]}
    return client.post(f"/api/progress/back_lanes/{fid}{query}", data=data, content_type="multipart/form-data",
                       headers={"X-CSRFToken": csrf(client)})


def counts(store) -> tuple[int, int, int]:
    return store.count("progress"), store.count(TABLE), store.count("audit")


def test_a_record_with_photos_is_stored_and_shown_to_staff(rapp, login_as, anon):
    store = rapp.extensions["gisapp"]["store"]
    fid, code = lane(store)
    handler = login_as("handler")
    rotated = photo("orientation_6_no_gps.jpg")
    resp = post(handler, fid, record_form(store, code),
                [(rotated, "o6.jpg"), (photo("iphone6_gps_downscaled.jpg"), "iphone.jpg")])
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["photos"] == 2 and body["feature_code"] == code
    rows = store.read(TABLE, where={"progress_fid": body["id"]}, order_by="fid")
    assert list(rows["layer"]) == ["back_lanes"] * 2 and set(rows["feature_code"]) == {code}
    assert set(rows["uploaded_by"]) == {"handler"} and len(set(rows["sha256"])) == 2
    assert store.read("progress", where={"fid": body["id"]}).iloc[0]["note"] == "现场照片"
    # one transaction: the record, its photo rows and their audit entries
    audit = store.read("audit", where={"target_table": ["progress", TABLE]}, order_by="-fid", limit=2)
    assert set(audit["target_table"]) == {"progress", TABLE} and set(audit["actor"]) == {"handler"}
    folder = Path(rapp.config["REPORT_UPLOADS"])
    assert len(files_under(folder)) == 6  # original, display copy, thumbnail each; nothing left in .tmp
    # the display copy is upright and carries no EXIF; the original is kept byte for byte
    first = rows.iloc[0]
    original = Image.open(io.BytesIO(rotated))
    assert (first["width"], first["height"]) == (original.height, original.width)
    planner = login_as("viewer")
    photo_id = int(rows.index[0])
    with planner.get(f"/progress/photo/{photo_id}/display") as display:
        assert display.status_code == 200 and display.mimetype == "image/jpeg"
        shown = Image.open(io.BytesIO(display.data))
        assert shown.size == (original.height, original.width) and not shown.getexif()  # turned upright
    with planner.get(f"/progress/photo/{photo_id}/thumb") as thumb:
        assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.data)).size) <= 320
    assert planner.get(f"/progress/photo/{photo_id}/original").status_code == 403
    with handler.get(f"/progress/photo/{photo_id}/original") as got:
        assert got.status_code == 200 and got.data == rotated
    assert planner.get(f"/progress/photo/{photo_id}/exif").status_code == 404
    assert planner.get("/progress/photo/999999/thumb").status_code == 404
    # the popup history: thumbnails linking to the display copies, captioned with the record
    html = planner.get(f"/api/map/back_lanes/{fid}/popup").get_json()["html"]
    history = html[html.index('class="gis-history"'):]
    for pid in rows.index:
        assert f'href="/progress/photo/{pid}/display"' in history and f'src="/progress/photo/{pid}/thumb"' in history
    assert f'data-record="{body["id"]}"' in history and "进度照片" in history
    assert 'type="file"' not in html  # a planner records nothing
    en = planner.get(f"/api/map/back_lanes/{fid}/popup?lang=en").get_json()["html"]
    assert "Progress photos" in en
    # an "as of" date before the record: its photos are not shown either
    past = planner.get(f"/api/map/back_lanes/{fid}/popup?as_of=2020-01-01").get_json()["html"]
    assert "/progress/photo/" not in past
    # anonymous visitors: refused, and the public view never shows them
    assert anon.get(f"/progress/photo/{photo_id}/thumb").status_code in (302, 401)
    rapp.config["PUBLIC_VIEW"] = True
    public = anon.get(f"/api/map/back_lanes/{fid}/popup").get_json()["html"]
    assert "/progress/photo/" not in public and "进度照片" not in public
    assert anon.get(f"/progress/photo/{photo_id}/thumb").status_code in (302, 401)


def test_the_form_offers_camera_and_gallery_to_handlers_only(rapp, login_as):
    store = rapp.extensions["gisapp"]["store"]
    fid, _ = lane(store, 1)
    html = login_as("handler").get(f"/api/map/back_lanes/{fid}/popup").get_json()["html"]
    form = html[html.index('class="gis-progress-form"'):]
    assert 'name="photos" accept="image/*" capture="environment"' in form
    assert 'name="photos" accept="image/*" multiple' in form
    assert form.index('name="photos"') < form.index('<button type="submit"')
    assert "最多 6 张" in form
    assert "up to 6" in login_as("handler").get(f"/api/map/back_lanes/{fid}/popup?lang=en").get_json()["html"]


def test_a_record_without_photos_still_works(rapp, login_as):
    store = rapp.extensions["gisapp"]["store"]
    fid, code = lane(store, 2)
    resp = post(login_as("handler"), fid, record_form(store, code), [])
    assert resp.status_code == 201 and resp.get_json()["photos"] == 0
    assert store.count(TABLE) == 0 and files_under(rapp.config["REPORT_UPLOADS"]) == []


def _truncated() -> bytes:
    data = photo("nikon_d70_no_gps.jpg")
    return data[: len(data) // 3]


@pytest.mark.parametrize("files, status, zh, en", [
    ([(b"this is a note, not a photo", "note.jpg")], 415, "不是图片文件", "not an image file"),
    ("truncated", 400, "图片已损坏或不完整", "damaged or truncated"),
    ("good+bad", 415, "不是图片文件", "not an image file"),
    ("seven", 422, "照片最多 6 张", "at most 6 photos"),
], ids=["text", "truncated", "good-and-bad", "seven"])
def test_broken_photos_are_refused_and_nothing_is_written(rapp, login_as, files, status, zh, en):
    store = rapp.extensions["gisapp"]["store"]
    fid, code = lane(store, 3)
    good = photo("nikon_d70_no_gps.jpg")
    if isinstance(files, str):
        files = {"truncated": [(_truncated(), "half.jpg")], "good+bad": [(good, "ok.jpg"), (b"%PDF-1.4", "scan.jpg")],
                 "seven": [(good, f"{i}.jpg") for i in range(7)]}[files]
    before = counts(store)
    handler = login_as("handler")
    resp = post(handler, fid, record_form(store, code), files)
    assert resp.status_code == status and zh in resp.get_json()["error"]["message"]
    english = post(handler, fid, record_form(store, code), files, "?lang=en")
    assert english.status_code == status and en in english.get_json()["error"]["message"]
    handler.set_cookie("lang", "en")
    cookie = post(handler, fid, record_form(store, code), files)
    assert en in cookie.get_json()["error"]["message"]
    assert counts(store) == before
    assert files_under(rapp.config["REPORT_UPLOADS"]) == []


def test_too_large_and_invalid_records_write_nothing(rapp, login_as):
    store = rapp.extensions["gisapp"]["store"]
    fid, code = lane(store, 4)
    handler = login_as("handler")
    before = counts(store)
    rapp.config["REPORT_MAX_PHOTO_MB"] = 0.1
    big = post(handler, fid, record_form(store, code), [(photo("nikon_coolpix_p6000_gps.jpg"), "big.jpg")])
    assert big.status_code == 413 and "过大" in big.get_json()["error"]["message"]
    rapp.config["REPORT_MAX_PHOTO_MB"] = 15
    # a good photo with a bad record: the record's messages, and no file left behind
    bad = post(handler, fid, record_form(store, code, percent="140"), [(photo("nikon_d70_no_gps.jpg"), "a.jpg")])
    assert bad.status_code == 422 and "0–100" in bad.get_json()["error"]["message"]
    back = post(handler, fid, record_form(store, code, status="planned", note=""), [(photo("nikon_d70_no_gps.jpg"), "a.jpg")],
                "?lang=en")
    assert back.status_code == 422 and "backwards" in back.get_json()["error"]["message"]
    assert counts(store) == before
    assert files_under(rapp.config["REPORT_UPLOADS"]) == []
    # and without the right role, nothing either
    refused = post(login_as("viewer"), fid, record_form(store, code), [(photo("nikon_d70_no_gps.jpg"), "a.jpg")])
    assert refused.status_code == 403 and counts(store) == before


def database_refuses_progress_photos(database, on: bool) -> None:
    """A trigger that makes the database refuse photo rows, after the record went in (same transaction)."""
    if isinstance(database, Path):
        with sqlite3.connect(database) as db:
            db.execute(f"CREATE TRIGGER fail_photos BEFORE INSERT ON {TABLE} BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                       if on else "DROP TRIGGER fail_photos")
        return
    import psycopg
    with psycopg.connect(database, autocommit=True) as db:
        if on:
            db.execute("CREATE FUNCTION fail_photos() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$")
            db.execute(f"CREATE TRIGGER fail_photos BEFORE INSERT ON {TABLE} FOR EACH ROW EXECUTE FUNCTION fail_photos()")
        else:
            db.execute(f"DROP TRIGGER fail_photos ON {TABLE}")


def test_record_and_photo_rows_are_one_transaction(rapp, demo_copy, login_as):
    store = rapp.extensions["gisapp"]["store"]
    fid, code = lane(store, 5)
    handler = login_as("handler")
    before = counts(store)
    database_refuses_progress_photos(demo_copy, True)
    resp = post(handler, fid, record_form(store, code), [(photo("nikon_d70_no_gps.jpg"), "a.jpg")])
    database_refuses_progress_photos(demo_copy, False)
    assert 400 <= resp.status_code < 600
    assert counts(store) == before  # no record without its photos
    assert files_under(rapp.config["REPORT_UPLOADS"]) == []  # no file without its row
    # the files cannot be moved into place: the committed record and rows are taken back
    blocker = Path(rapp.config["REPORT_UPLOADS"]) / "display"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("")
    resp = post(handler, fid, record_form(store, code), [(photo("nikon_d70_no_gps.jpg"), "a.jpg")])
    assert resp.status_code == 500
    assert counts(store)[:2] == before[:2]
    assert [p.name for p in files_under(rapp.config["REPORT_UPLOADS"])] == ["display"]


def killed_after_commit(db: str, uploads: str, fid: int, form: dict) -> None:
    """In a separate process: a progress record with a photo, the process SIGKILLed after the
    commit, before its files are moved into place."""
    import os
    import signal
    from gisapp.reports import files
    files.PhotoFiles.publish = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    app = create_app({"DATABASE": db, "TESTING": True, "REPORT_UPLOADS": uploads, "LOAD_DEMO": False})
    app.test_client().post(f"/api/progress/back_lanes/{fid}", headers=bearer(app, "handler"),
                           content_type="multipart/form-data",
                           data={**form, "photos": [(io.BytesIO(photo("nikon_d70_no_gps.jpg")), "k.jpg")]})
    raise AssertionError("not killed")


def test_photos_of_a_killed_process_are_moved_into_place_at_start_up(rapp, demo_copy):
    """The record committed, its files still staged: the next worker's start-up publishes them
    (the report pipeline's recovery knows progress photos too)."""
    photo("nikon_d70_no_gps.jpg")  # the child reads it: skip here when the shared photos are absent
    store = rapp.extensions["gisapp"]["store"]
    store.checkpoint()
    fid, code = lane(store, 6)
    uploads = rapp.config["REPORT_UPLOADS"]
    proc = multiprocessing.get_context("spawn").Process(
        target=killed_after_commit, args=(str(demo_copy), uploads, fid, record_form(store, code, note="killed")))
    proc.start()
    proc.join(300)
    assert proc.exitcode == -9
    assert len(files_under(Path(uploads) / ".tmp")) == 3
    record = store.read("progress", where={"feature_code": code, "note": "killed"})
    rows = store.read(TABLE, where={"progress_fid": int(record.index[0])})
    assert len(record) == 1 and len(rows) == 1
    create_app({"DATABASE": str(demo_copy), "TESTING": True, "REPORT_UPLOADS": uploads,
                "LOAD_DEMO": False}).extensions["gisapp"]["store"].close()  # a new worker starts
    expected = {Path(uploads) / rows.iloc[0][c] for c in ("original_path", "display_path", "thumb_path")}
    assert set(files_under(uploads)) == expected
    with rapp.test_client().get(f"/progress/photo/{int(rows.index[0])}/thumb", headers=bearer(rapp, "planner")) as resp:
        assert resp.status_code == 200 and resp.mimetype == "image/jpeg"


@pytest.fixture
def old_store_url(backend, tmp_path, registry):
    """A store made before progress photos existed: every table but ``progress_photos``, one record."""
    if backend == "gpkg":
        url = str(tmp_path / "old.gpkg")
    else:
        server = pg_server()
        name = server.create(label="old")
        url = server.url_of(name)
    store = open_store(url, registry)
    del store.specs[TABLE]
    store.initialize()
    with store.writer("admin") as w:
        w.insert("back_lanes", gpd.GeoDataFrame(
            [{"code": "XX01", "name": "老巷", "community_code": "510322100031"}],
            geometry=[shapely.LineString([(104.97, 29.18), (104.971, 29.181)])], crs=4326))
    add_record(store, registry.get("back_lanes"), "XX01",
               {"record_date": dt.date(2023, 5, 1), "status": "in_progress", "percent": 40}, "admin")
    store.close()
    yield url
    if backend == "postgis":
        pg_server().drop(name)


def test_a_store_from_before_gets_the_table_and_takes_photos(old_store_url, registry, tmp_path):
    store = open_store(old_store_url, registry)
    store.initialize()
    assert f"created table {TABLE}" in store.changes
    store.close()
    app = create_app({"DATABASE": old_store_url, "TESTING": True, "LOAD_DEMO": False,
                      "REPORT_UPLOADS": str(tmp_path / "uploads")})
    store = app.extensions["gisapp"]["store"]
    auth.create_user(store, "chen", "long-enough-1", "handler", "admin")
    client = logged_in(app, "chen")
    fid = int(store.read("back_lanes", columns=["code"], geometry=False).index[0])
    resp = post(client, fid, record_form(store, "XX01"), [(photo("nikon_d70_no_gps.jpg"), "a.jpg")])
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert store.count(TABLE) == 1 and store.count("progress") == 2
    html = client.get(f"/api/map/back_lanes/{fid}/popup").get_json()["html"]
    assert "/progress/photo/" in html
    store.close()
