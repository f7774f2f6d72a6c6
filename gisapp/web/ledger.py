"""Spreadsheet ledgers: export, import with a dry run, and progress records (with photos) from the map."""
from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from .. import ledger, progress_photos, quality
from ..db import get_registry, get_store
from ..errors import BadRequest, NotFound
from ..i18n import current_lang
from ..progress_entry import add_record, feature_code, parse_form
from .auth import actor, requires
from .reports import photo_files, read_photos, send_photo

bp = Blueprint("ledger", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _layer(layer_id: str):
    registry = get_registry()
    if layer_id not in registry or not registry.get(layer_id).progress:
        raise NotFound({"zh": "没有这个工作图层", "en": "no such work layer"})
    return registry.get(layer_id)


def _upload_dir() -> Path:
    path = Path(current_app.instance_path) / "ledger_uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


@bp.get("/ledger")
@requires("read")
def page():
    return render_template("ledger.html", layers=get_registry().with_progress(), lang=current_lang(),
                           results=None, token=None, layer=None)


@bp.get("/ledger/export.xlsx")
@requires("read")
def export():
    data = ledger.export_xlsx(get_store(), get_registry().with_progress())
    name = f"gisapp-ledger-{dt.date.today().isoformat()}.xlsx"
    return Response(data, mimetype=XLSX, headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.post("/ledger/import")
@requires("progress")
def import_ledger():
    """First call: a file → a dry run shown row by row. Second call: the token → the import."""
    layer = _layer(request.form.get("layer", ""))
    token = request.form.get("token", "")
    if token:
        if not token.isalnum() or not (_upload_dir() / token).exists():
            raise BadRequest({"zh": "上传已过期，请重新选择文件", "en": "the upload expired; choose the file again"})
        path = _upload_dir() / token
        filename = (path.with_suffix(".name")).read_text() if path.with_suffix(".name").exists() else "ledger.xlsx"
        data = path.read_bytes()
    else:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise BadRequest({"zh": "请选择台账文件（.xlsx 或 .csv）", "en": "choose a ledger file (.xlsx or .csv)"})
        filename, data = upload.filename, upload.read()
        if not filename.lower().endswith((".xlsx", ".csv")):
            raise BadRequest({"zh": "只接受 .xlsx 或 .csv 文件", "en": "only .xlsx or .csv files"})
    confirm = {k[8:]: v for k, v in request.form.items() if k.startswith("confirm:") and v}
    rows, _ = ledger.read_rows(data, filename, layer)
    results = ledger.dry_run(get_store(), layer, rows, dt.date.today(), confirm)
    if token and request.form.get("apply") == "1":
        summary = ledger.apply(get_store(), layer, results, actor(), Path(filename).name, request.remote_addr)
        (_upload_dir() / token).unlink(missing_ok=True)
        return render_template("ledger.html", layers=get_registry().with_progress(), lang=current_lang(),
                               results=None, token=None, layer=layer, done=summary)
    if not token:
        token = secrets.token_hex(16)
        (_upload_dir() / token).write_bytes(data)
        (_upload_dir() / token).with_suffix(".name").write_text(Path(filename).name)
    candidates = _candidates(layer, results)
    return render_template("ledger.html", layers=get_registry().with_progress(), lang=current_lang(),
                           results=results, token=token, layer=layer, candidates=candidates, confirm=confirm)


def _candidates(layer, results) -> dict:
    """For ambiguous names: the features a user can choose from."""
    names = {r.name for r in results if r.action == "ambiguous"}
    if not names:
        return {}
    feats = get_store().read(layer.id, where={layer.name_field: list(names)},
                             columns=[layer.link_field, layer.name_field] +
                             ([layer.community_field] if layer.community_field else []), geometry=False)
    out: dict = {}
    for _, f in feats.iterrows():
        out.setdefault(f[layer.name_field], []).append((f[layer.link_field], f.get(layer.community_field, "")))
    return out


@bp.post("/api/progress/<layer_id>/<int:fid>")
@requires("progress")
def add_progress(layer_id: str, fid: int):
    """Add a progress record to a feature (form fields or JSON; photos as multipart ``photos``)."""
    layer = _layer(layer_id)
    store = get_store()
    code = feature_code(store, layer, fid)
    data = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, dict) and not hasattr(data, "get"):
        raise BadRequest({"zh": "请求内容无效", "en": "invalid request body"})
    photos = read_photos("photos")
    record_id = add_record(store, layer, code, parse_form(layer, data), actor(), request.remote_addr,
                           photos=photos, files=photo_files() if photos else None)
    return jsonify(id=record_id, layer=layer.id, feature_code=code, photos=len(photos),
                   data_version=store.data_version()), 201


@bp.get("/progress/photo/<int:photo_id>/<variant>")
@requires("read")
def progress_photo(photo_id: int, variant: str):
    """A progress photo: as field-report photos (display copy, thumbnail; originals for handlers)."""
    return send_photo(progress_photos.TABLE, photo_id, variant)


_quality_cache: dict[tuple, list] = {}


def _findings() -> list[dict]:
    """Recomputed whenever the data changes (keyed on the data version and the day)."""
    store = get_store()
    key = (store.url, store.data_version(), dt.date.today(), current_app.config["STALE_WEEKS"])
    if key not in _quality_cache:
        _quality_cache.clear()
        _quality_cache[key] = quality.findings(store, key[2], key[3])
    return _quality_cache[key]


@bp.get("/quality")
@requires("read")
def quality_page():
    return render_template("quality.html", findings=_findings(), lang=current_lang())


@bp.get("/api/quality")
@requires("read")
def quality_json():
    return jsonify(findings=_findings(), stale_weeks=current_app.config["STALE_WEEKS"])
