"""Spreadsheet ledgers (台账): export the current state, import edited or office-made ledgers.

A ledger sheet has one row per feature: code, name, community, date, status, percent, the
layer's quantities, note. Import reads what offices type (merged title rows, blank lines,
numbers as text, "1.97万", dates like 2023.5.8), matches rows to features by code or name,
and shows a dry run before one audited transaction writes it.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field

import openpyxl
import pandas as pd

from .errors import ValidationFailed
from .progress import latest
from .progress_entry import check_record, number
from .registry import LayerDef
from .storage import Store
from .storage.base import utcnow
from .vocab import STATUSES

BASE_HEADERS = {"code": "编号", "name": "名称", "community": "所属社区", "record_date": "日期", "status": "状态",
                "percent": "完成度(%)", "note": "备注"}
ALIASES = {  # what offices write in header cells -> our column
    "code": ["编号", "代码", "编码", "id", "code"], "name": ["名称", "街巷名称", "小区名称", "项目名称", "name"],
    "record_date": ["日期", "填报日期", "更新日期", "时间", "date"], "status": ["状态", "进度状态", "status"],
    "percent": ["完成度(%)", "完成度", "完成比例", "完成率", "进度(%)", "percent"], "note": ["备注", "说明", "note"],
    "community": ["所属社区", "社区", "community"],
}
MAX_ROWS = 20_000
MAX_BYTES = 20 * 1024 * 1024


def _fail(zh: str, en: str):
    raise ValidationFailed({"zh": zh, "en": en})


def quantity_header(layer: LayerDef, key: str) -> str:
    q = next(q for q in layer.quantities if q.key == key)
    return f"{q.label('zh')}({q.unit_label('zh')})"


def headers(layer: LayerDef) -> dict[str, str]:
    out = dict(BASE_HEADERS)
    for q in layer.quantities:
        out[q.key] = quantity_header(layer, q.key)
    return out


# --- export --------------------------------------------------------------------------

def ledger_frame(store: Store, layer: LayerDef) -> pd.DataFrame:
    feats = store.read(layer.id, columns=[layer.link_field, layer.name_field] +
                       ([layer.community_field] if layer.community_field else []), geometry=False)
    names = dict(zip(*[store.read("communities", columns=["code", "name"], geometry=False)[c] for c in ("code", "name")]))
    state = latest(store.progress(layer.id)).reset_index(level="layer", drop=True)
    rows = []
    for _, f in feats.iterrows():
        code = str(f[layer.link_field])
        rec = state.loc[code] if code in state.index else None
        row = {"code": code, "name": f[layer.name_field],
               "community": names.get(f.get(layer.community_field), "") if layer.community_field else "",
               "record_date": None if rec is None else dt.date.fromisoformat(rec["record_date"]),
               "status": None if rec is None else STATUSES[rec["status"]]["zh"],
               "percent": None if rec is None else rec["percent"], "note": None if rec is None else rec["note"]}
        for q in layer.quantities:
            row[q.key] = None if rec is None or pd.isna(rec[q.key]) else rec[q.key]
        rows.append(row)
    return pd.DataFrame(rows, columns=list(headers(layer)))


def export_xlsx(store: Store, layers: list[LayerDef]) -> bytes:
    """One sheet per layer with Chinese headers: the columns import reads back."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for layer in layers:
        sheet = book.create_sheet(layer.title.zh[:31])
        head = headers(layer)
        sheet.append(list(head.values()))
        for row in ledger_frame(store, layer).itertuples(index=False):
            sheet.append([None if pd.isna(v) else v for v in row])
        for col, width in zip("ABCDEFGHIJKL", (12, 16, 14, 12, 8, 10, 16, 16, 16, 24, 12, 12)):
            sheet.column_dimensions[col].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- reading what people type ----------------------------------------------------------

def parse_number(value):
    """12, "12", "1,234", "1.97万", "12%", "" -> float or None; ValueError for text."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace(",", "").replace("，", "").replace(" ", "")
    if text in ("", "-", "—", "/"):
        return None
    scale = 1.0
    for suffix, factor in (("万", 10_000), ("%", 1), ("％", 1), ("元", 1), ("个", 1), ("户", 1), ("处", 1),
                           ("对", 1), ("平方米", 1), ("㎡", 1), ("m²", 1)):
        if text.endswith(suffix):
            text, scale = text[: -len(suffix)], scale * factor
    return round(float(text) * scale, 6)


DATE_RE = re.compile(r"^(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?$")


def parse_date(value) -> dt.date | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and 20000 < value < 80000:  # an Excel serial day
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
    m = DATE_RE.match(str(value).strip())
    if not m:
        raise ValueError(value)
    return dt.date(*(int(g) for g in m.groups()))


def parse_status(value) -> str | None:
    text = str(value or "").strip()
    for key, labels in STATUSES.items():
        if text in (key, labels["zh"], labels["en"], labels["en"].lower()):
            return key
    return {"在建": "in_progress", "施工": "in_progress", "完工": "done", "验收": "accepted",
            "未开工": "planned", "计划": "planned"}.get(text)


def _normal(text) -> str:
    return re.sub(r"[\s（）()：:]", "", str(text or "")).lower()


def column_map(layer: LayerDef, cells: list) -> dict[int, str]:
    """Which of our columns each header cell is (by alias or quantity title)."""
    known = {_normal(a): col for col, names in ALIASES.items() for a in names}
    for q in layer.quantities:
        for label in (quantity_header(layer, q.key), q.label("zh"), q.label("en"), q.key):
            known[_normal(label)] = q.key
    out = {}
    for i, cell in enumerate(cells):
        col = known.get(_normal(cell))
        if col and col not in out.values():
            out[i] = col
    return out


def read_rows(data: bytes, filename: str, layer: LayerDef) -> tuple[list[tuple[int, dict]], str | None]:
    """(row number, values) for every non-blank row under the header row, and the sheet used."""
    if len(data) > MAX_BYTES:
        _fail("文件过大", "the file is too large")
    try:
        if filename.lower().endswith(".csv"):
            text = data.decode("utf-8-sig") if _is_utf8(data) else data.decode("gb18030")
            grid = [r.split(",") for r in text.splitlines()]
            sheet_name = None
        else:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            sheet = _pick_sheet(book, layer)
            sheet_name = sheet.title
            grid = [list(r) for _, r in zip(range(MAX_ROWS + 50), sheet.iter_rows(values_only=True))]
    except (OSError, KeyError, ValueError, UnicodeDecodeError, openpyxl.utils.exceptions.InvalidFileException,
            zipfile.BadZipFile) as exc:
        _fail(f"无法读取台账文件：{type(exc).__name__}", f"cannot read the ledger file: {type(exc).__name__}")
    for i, cells in enumerate(grid[:20]):  # title rows first, then the header row
        mapping = column_map(layer, cells)
        if {"record_date", "status"} <= set(mapping.values()) and ({"code", "name"} & set(mapping.values())):
            rows = []
            for n, cells2 in enumerate(grid[i + 1:], start=i + 2):
                values = {col: cells2[j] if j < len(cells2) else None for j, col in mapping.items()}
                if all(v is None or str(v).strip() == "" for v in values.values()):
                    continue  # blank line
                rows.append((n, values))
            return rows, sheet_name
    _fail("找不到表头行（需要“编号”或“名称”、“日期”、“状态”列）",
          "no header row found (needs code or name, date and status columns)")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _pick_sheet(book, layer: LayerDef):
    for sheet in book.worksheets:
        if sheet.title in (layer.title.zh[:31], layer.id):
            return sheet
    return book.worksheets[0]


# --- dry run and import ----------------------------------------------------------------

@dataclass
class RowResult:
    row: int
    action: str  # new | update | unchanged | error | unknown | ambiguous
    code: str | None = None
    name: str | None = None
    changes: dict = field(default_factory=dict)
    message: dict | None = None
    record: dict | None = None


def _match(values: dict, feats: pd.DataFrame, layer: LayerDef, confirm: dict) -> tuple[str | None, str]:
    code = str(values.get("code") or "").strip()
    if code:
        return (code, "ok") if code in set(feats[layer.link_field].astype(str)) else (None, "unknown")
    name = str(values.get("name") or "").strip()
    if name in confirm:
        return confirm[name], "ok"
    hits = feats[feats[layer.name_field] == name]
    if len(hits) == 1:
        return str(hits.iloc[0][layer.link_field]), "ok"
    return None, "ambiguous" if len(hits) > 1 else "unknown"


def dry_run(store: Store, layer: LayerDef, rows, today: dt.date, confirm: dict | None = None) -> list[RowResult]:
    """What an import would do, row by row; nothing is written."""
    feats = store.read(layer.id, columns=[layer.link_field, layer.name_field], geometry=False)
    state = latest(store.progress(layer.id))
    state = state.reset_index(level="layer", drop=True) if len(state) else state
    out = []
    for n, values in rows:
        code, how = _match(values, feats, layer, confirm or {})
        name = values.get("name")
        if how != "ok":
            msg = {"unknown": {"zh": "找不到该要素（编号或名称），请核对或先新建", "en": "no such feature (code or name): check it or create it first"},
                   "ambiguous": {"zh": "名称对应多个要素，请选择", "en": "the name matches several features: choose one"}}[how]
            out.append(RowResult(n, how, None, name, message=msg))
            continue
        out.append(_row_result(n, code, name, values, state, layer, today))
    return out


def _row_result(n, code, name, values, state, layer, today) -> RowResult:
    try:
        record = {"record_date": parse_date(values.get("record_date")), "status": parse_status(values.get("status")),
                  "percent": parse_number(values.get("percent")), "note": _text(values.get("note"))}
        for q in layer.quantities:
            record[q.key] = parse_number(values.get(q.key))
    except ValueError as exc:
        return RowResult(n, "error", code, name, message={"zh": f"无法识别的值：{exc}", "en": f"cannot read the value: {exc}"})
    prev = state.loc[code].to_dict() if code in state.index else None
    day = record["record_date"].isoformat() if record["record_date"] else None
    if prev is not None and day and day < prev["record_date"]:
        return RowResult(n, "error", code, name, message={
            "zh": f"日期早于该要素最新记录（{prev['record_date']}）", "en": f"the date is before the latest record ({prev['record_date']})"})
    # a newer record is checked against the latest one; a same-day row corrects the latest record
    errors = check_record(layer, record, prev if prev is not None and day and day > prev["record_date"] else None, today)
    if errors:
        return RowResult(n, "error", code, name, message={"zh": "；".join(e["zh"] for e in errors),
                                                         "en": "; ".join(e["en"] for e in errors)})
    changes = _changes(prev, record, layer)
    if prev is not None and not changes:
        return RowResult(n, "unchanged", code, name)
    same_day = prev is not None and prev["record_date"] == record["record_date"].isoformat()
    return RowResult(n, "update" if same_day else "new", code, name, changes, record=record)


def _text(value):
    text = str(value).strip() if value is not None else ""
    return text or None


def _changes(prev: dict | None, record: dict, layer: LayerDef) -> dict:
    keys = ["record_date", "status", "percent", "note", *layer.quantity_keys]
    out = {}
    for k in keys:
        new = record.get(k)
        new = new.isoformat() if isinstance(new, dt.date) else new
        old = None if prev is None else prev.get(k)
        old = None if isinstance(old, float) and pd.isna(old) else old
        if (old or None) != (new or None) and not (isinstance(old, (int, float)) and isinstance(new, (int, float))
                                                    and abs(float(old) - float(new)) < 1e-6):
            out[k] = (old, new)
    return out


def apply(store: Store, layer: LayerDef, results: list[RowResult], actor: str, source: str,
          remote_addr: str | None = None) -> dict:
    """Write the dry run's new and updated records in one audited transaction.
    Refused whole while any row is an error, unknown or ambiguous."""
    blocking = [r for r in results if r.action in ("error", "unknown", "ambiguous")]
    if blocking:
        _fail(f"第 {blocking[0].row} 行需要处理后才能导入", f"row {blocking[0].row} must be resolved before importing")
    new = [r for r in results if r.action == "new"]
    updates = [r for r in results if r.action == "update"]
    now = utcnow()
    with store.writer(actor, remote_addr) as w:
        if new:
            w.insert("progress", pd.DataFrame([_row(layer, r, actor, now) for r in new]),
                     summary=f"ledger {source}: {len(new)} new records")
        for r in updates:
            fid = _latest_fid(store, layer, r.code)
            w.update("progress", fid, {k: v for k, v in _row(layer, r, actor, now).items()
                                       if k not in ("layer", "feature_code", "created_at")})
        w.audit("ledger_import", "progress", None, f"{source}: {len(new)} new, {len(updates)} corrected",
                after={"layer": layer.id, "new": [r.code for r in new], "updated": [r.code for r in updates]})
    return {"new": len(new), "updated": len(updates), "unchanged": sum(r.action == "unchanged" for r in results)}


def _row(layer: LayerDef, r: RowResult, actor: str, now: str) -> dict:
    rec = r.record
    return {"layer": layer.id, "feature_code": r.code, "record_date": rec["record_date"], "status": rec["status"],
            "percent": number(rec.get("percent")), "note": rec.get("note"), "author": actor, "created_at": now,
            **{q: number(rec.get(q)) for q in layer.quantity_keys}}


def _latest_fid(store: Store, layer: LayerDef, code: str) -> int:
    df = store.read("progress", where={"layer": layer.id, "feature_code": code}, order_by="record_date",
                    columns=["record_date"])
    return int(df.index[-1])
