"""Spreadsheet ledgers: office-made files import with a dry run; export -> edit one cell -> import changes one record."""
import datetime as dt
import io
import re
import shutil
import subprocess

import openpyxl
import pytest

from gisapp import ledger
from gisapp.errors import ValidationFailed
from gisapp.progress_entry import add_record

TODAY = dt.date(2024, 1, 15)


@pytest.mark.parametrize("text, value", [("1.97万", 19700), (" 1,234 ", 1234), ("85%", 85), ("12", 12),
                                         (3.5, 3.5), ("", None), ("—", None), ("3200元", 3200)])
def test_numbers_as_people_type_them(text, value):
    assert ledger.parse_number(text) == value


@pytest.mark.parametrize("text, day", [("2023.5.8", dt.date(2023, 5, 8)), ("2023年5月8日", dt.date(2023, 5, 8)),
                                       ("2023/05/08", dt.date(2023, 5, 8)), (dt.datetime(2023, 5, 8, 9), dt.date(2023, 5, 8)),
                                       (45054, dt.date(2023, 5, 8))])
def test_dates_as_people_type_them(text, day):
    assert ledger.parse_date(text) == day


def office_ledger(lanes, unknown=False) -> bytes:
    """A ledger made the way an office makes it: merged title row, Chinese headers, a blank row,
    numbers as text and "万", dates with dots, no codes (names only)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "背街小巷"
    sheet.append(["富世街道背街小巷提升改造工作台账（2023年12月）"])
    sheet.merge_cells("A1:H1")
    sheet.append(["街巷名称", "填报日期", "进度状态", "完成比例", "修补、黑化路面（平方米）", "施划停车位（个）", "投入资金（元）", "备注"])
    first, second = lanes.iloc[0], lanes.iloc[1]
    sheet.append([first["name"], "2023.12.28", "已验收", "100", "0.1万", "12", "31.5万", "复核面积"])
    sheet.append([None] * 8)
    sheet.append([second["name"], "2023年12月29日", "已验收", 100, str(second["area_m2"]), str(int(second["spaces"])),
                  str(second["funds_cny"]), "例行更新"])
    if unknown:
        sheet.append(["不存在的巷子", "2023.12.28", "施工中", "50", "", "", "", ""])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def lane_state(store):
    from gisapp.progress import feature_state
    layer = store.registry.get("back_lanes")
    return feature_state(store.read("back_lanes", geometry=False), store.progress("back_lanes"), "back_lanes",
                         quantities=layer.quantity_keys)


def test_office_ledger_dry_run_then_one_transaction(store):
    layer = store.registry.get("back_lanes")
    lanes = lane_state(store)
    rows, sheet = ledger.read_rows(office_ledger(lanes), "台账.xlsx", layer)
    assert sheet == "背街小巷" and [n for n, _ in rows] == [3, 5]  # title and blank rows skipped
    results = ledger.dry_run(store, layer, rows, TODAY)
    assert [r.action for r in results] == ["new", "new"]
    assert results[0].code == lanes.iloc[0]["code"]
    assert results[0].changes["area_m2"][1] == 1000 and results[0].changes["funds_cny"][1] == 315000
    assert results[1].changes.keys() == {"record_date", "note"}  # same figures, newer date and a note
    before = store.count("progress")
    audit_before = store.count("audit")
    assert ledger.apply(store, layer, results, "handler", "台账.xlsx") == {"new": 2, "updated": 0, "unchanged": 0}
    assert store.count("progress") == before + 2
    entry = store.read("audit", order_by="-at").iloc[0]
    assert entry["action"] == "ledger_import" and entry["actor"] == "handler" and store.count("audit") == audit_before + 2
    assert lane_state(store).set_index("code").loc[lanes.iloc[0]["code"], "area_m2"] == 1000


def test_unknown_name_asks_and_nothing_is_written(store):
    layer = store.registry.get("back_lanes")
    rows, _ = ledger.read_rows(office_ledger(lane_state(store), unknown=True), "台账.xlsx", layer)
    results = ledger.dry_run(store, layer, rows, TODAY)
    assert results[-1].action == "unknown" and "找不到" in results[-1].message["zh"]
    before = store.count("progress")
    with pytest.raises(ValidationFailed, match="row 6"):
        ledger.apply(store, layer, results, "handler", "台账.xlsx")
    assert store.count("progress") == before


def test_malformed_files_are_refused(store):
    layer = store.registry.get("back_lanes")
    for data, name in [(b"PK\x03\x04 not really a zip", "x.xlsx"), (b"\x00\x01garbage", "x.xlsx"),
                       ("名称,颜色\n甲,红\n".encode("gb18030"), "x.csv")]:
        with pytest.raises(ValidationFailed):
            ledger.read_rows(data, name, layer)


def test_export_edit_one_cell_import_changes_one_record(store, tmp_path):
    data = ledger.export_xlsx(store, store.registry.with_progress())
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert [s.title for s in book.worksheets][:3] == ["老旧小区改造片区", "小区", "背街小巷"]
    sheet = book["背街小巷"]
    head = [c.value for c in sheet[1]]
    assert head[:7] == ["编号", "名称", "所属社区", "日期", "状态", "完成度(%)", "备注"][:7] or "编号" in head
    note_col = head.index("备注") + 1
    sheet.cell(row=4, column=note_col, value="路面复测后更正")  # one cell, as a person would in Excel
    edited = io.BytesIO()
    book.save(edited)
    layer = store.registry.get("back_lanes")
    rows, _ = ledger.read_rows(edited.getvalue(), "ledger.xlsx", layer)
    results = ledger.dry_run(store, layer, rows, TODAY)
    changed = [r for r in results if r.action != "unchanged"]
    assert len(results) == 21 and len(changed) == 1
    assert changed[0].action == "update" and set(changed[0].changes) == {"note"}
    before = store.count("progress")
    assert ledger.apply(store, layer, results, "admin", "ledger.xlsx")["updated"] == 1
    assert store.count("progress") == before  # corrected in place, not added
    # the file also opens in LibreOffice
    if shutil.which("soffice"):
        path = tmp_path / "ledger.xlsx"
        path.write_bytes(data)
        subprocess.run(["soffice", "--headless", "--convert-to", "csv", "--outdir", str(tmp_path), str(path)],
                       check=True, capture_output=True, timeout=120)
        assert (tmp_path / "ledger.csv").read_bytes()[:2]


def test_progress_record_validation(store):
    layer = store.registry.get("back_lanes")
    code = store.read("back_lanes", columns=["code"], geometry=False).iloc[0]["code"]
    bad = [({"percent": 120}, "0–100"), ({"area_m2": -3}, "负数"), ({"record_date": dt.date(2030, 1, 1)}, "晚于今天"),
           ({"status": "in_progress"}, "倒退"), ({"percent": "abc"}, "不是数字")]
    for change, message in bad:
        record = {"record_date": dt.date(2024, 1, 2), "status": "accepted", "percent": 100, "note": None, **change}
        with pytest.raises(ValidationFailed) as err:
            add_record(store, layer, code, record, "handler", today=TODAY)
        assert message in err.value.message("zh")
    ok = {"record_date": dt.date(2024, 1, 2), "status": "in_progress", "percent": 90, "note": "返工：路面开裂"}
    assert add_record(store, layer, code, ok, "handler", today=TODAY) > 0


def test_ledger_pages_and_progress_api(client, login_as, store):
    resp = client.get("/ledger/export.xlsx")
    assert resp.status_code == 200 and resp.data[:2] == b"PK"
    lanes = store.read("back_lanes", columns=["code"], geometry=False)
    fid = int(lanes.index[0])
    page = client.get("/ledger").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    today = dt.date.today().isoformat()
    body = {"record_date": today, "status": "accepted", "percent": "100", "area_m2": "1200", "spaces": "80",
            "funds_cny": "260000", "note": "验收复核"}
    resp = client.post(f"/api/progress/back_lanes/{fid}", data=body, headers={"X-CSRFToken": token})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    dash = client.get("/api/dashboard?layer=back_lanes").get_json()
    assert next(f for f in dash["figures"] if f["key"] == "lanes_surface_m2")["value"] != 19700
    bad = client.post(f"/api/progress/back_lanes/{fid}", data={**body, "percent": "140"}, headers={"X-CSRFToken": token})
    assert bad.status_code == 422 and "0–100" in bad.get_json()["error"]["message"]
    viewer = login_as("viewer")
    vtoken = re.search(r'name="csrf_token" value="([^"]+)"', viewer.get("/").get_data(as_text=True)).group(1)
    refused = viewer.post(f"/api/progress/back_lanes/{fid}", data=body, headers={"X-CSRFToken": vtoken})
    assert refused.status_code == 403 and "角色" in refused.get_json()["error"]["message"]
    upload = client.post("/ledger/import", data={"layer": "back_lanes", "csrf_token": token,
                                                 "file": (io.BytesIO(b"garbage"), "x.xlsx")},
                         content_type="multipart/form-data")
    assert upload.status_code == 422
