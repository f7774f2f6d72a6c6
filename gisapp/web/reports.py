"""Field reports: the phone upload page, the handler list, the report page with its
workflow, photos, and the admin's bulk import. The JSON API (Open311 field names)
is in :mod:`gisapp.web.reports_api` on the same blueprint.

Views only parse and render; the work is done in :mod:`gisapp.reports`.
"""
from __future__ import annotations

import logging
import math
import os

from flask import (Blueprint, Response, current_app, redirect, render_template, request, send_file, url_for)

from ..db import get_registry, get_store
from ..errors import Forbidden, GisappError, NotFound, StoreError, ValidationFailed
from ..i18n import current_lang
from ..reports import Settings, bulk, importjobs, queries, workflow
from ..reports.common import clean, local_text
from ..reports.files import PhotoFiles, paths_in_store
from ..reports.images import Photo, process
from ..reports.pagedata import outline, upload_page_config
from ..reports.readers import Options
from ..vocab import CATEGORIES, POSITION_SOURCES, REPORT_ACTIONS, REPORT_SOURCES, REPORT_STATES
from .auth import current_user, requires

bp = Blueprint("reports", __name__)
log = logging.getLogger(__name__)
PAGE_SIZE = 50
IMPORT_FIELDS = ("code", "category", "description", "reported_at", "reporter")


def settings() -> Settings:
    return Settings.from_config(current_app.config, current_app.instance_path)


def photo_files() -> PhotoFiles:
    files = PhotoFiles(settings().uploads)
    if _recovered.get(str(files.root)) != os.getpid():  # a worker forked from a preloaded app
        _recover(files, get_store())
    return files


_recovered: dict[str, int] = {}  # upload folder -> the process that last recovered it


def _recover(files: PhotoFiles, store) -> None:
    """Photo files of uploads cut short by a dead process: published if their record committed,
    else removed (PhotoFiles.recover); once per process and folder."""
    _recovered[str(files.root)] = os.getpid()
    try:
        files.recover(lambda paths: paths_in_store(store, paths))
    except (OSError, StoreError):
        log.exception("could not recover the staged photo files in %s", files.root)


@bp.record_once
def _sweep(state) -> None:
    """Temporary files left by a crash and abandoned imports are dealt with at start-up."""
    s = Settings.from_config(state.app.config, state.app.instance_path)
    files = PhotoFiles(s.uploads)
    _recover(files, state.app.extensions["gisapp"]["store"])
    try:
        files.sweep()
        importjobs.sweep_jobs(s.uploads)
    except OSError:
        pass


def read_photos(field: str = "media") -> list[Photo]:
    """Every uploaded file of a field, decoded and checked (the first bad one refuses the request)."""
    s = settings()
    files = [f for f in request.files.getlist(field) if f and f.filename]
    if len(files) > s.max_photos:
        raise ValidationFailed({"zh": f"照片最多 {s.max_photos} 张", "en": f"at most {s.max_photos} photos"})
    limit = int(s.max_photo_mb * 1_000_000)
    return [process(f.read(limit + 1), (f.filename or "photo")[-80:], limit, s.max_pixels, s.camera_utc_offset_h)
            for f in files]


def labels() -> dict:
    lang = current_lang()
    pick = lambda vocab: {k: v[lang] for k, v in vocab.items()}  # noqa: E731
    return {"categories": pick(CATEGORIES), "states": pick(REPORT_STATES), "actions": pick(REPORT_ACTIONS),
            "sources": pick(REPORT_SOURCES), "positions": pick(POSITION_SOURCES)}


def community_names() -> dict:
    df = get_store().read("communities", columns=["code", "name"], geometry=False)
    return dict(zip(df["code"], df["name"]))


# --- the phone page ---------------------------------------------------------------

@bp.get("/reports/new")
@requires("report")
def new():
    cfg = upload_page_config(get_store(), settings(), current_app.config["MAP_CENTER"], current_lang())
    return render_template("report_new.html", cfg=cfg, labels=labels())


# --- lists and the report page ----------------------------------------------------

@bp.get("/reports/")
def index():
    store, s = get_store(), settings()
    view = request.args.get("view", "mine" if current_user().can("handle") else "open")
    page = max(1, _int(request.args.get("page"), 1))
    df, total = queries.list_reports(store, view, current_user(), request.args.get("community") or None,
                                     request.args.get("category") or None, request.args.get("status") or None,
                                     limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, due_days=s.due_days)
    rows = [{**{k: clean(v) for k, v in r.items()}, "when": local_text(r["reported_at"])} for r in df.to_dict("records")]
    return render_template("report_list.html", rows=rows, total=total, view=view, page=page,
                           pages=max(1, math.ceil(total / PAGE_SIZE)), labels=labels(), names=community_names(),
                           communities=queries.by_community(store, s.due_days), args=request.args)


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def render_detail(code: str, error: str | None = None, status: int = 200):
    store = get_store()
    data = queries.detail(store, code)
    units = store.read("support_units", columns=["name", "community_code"], geometry=False)
    user = current_user()
    map_data = {"lat": data["lat"], "lon": data["lon"], "outline": outline(store)}
    return render_template(
        "report_detail.html", d=data, r=data["report"], labels=labels(), names=community_names(), map_data=map_data,
        units=sorted(set(units["name"])), local=local_text, error=error,
        can_handle=user.can("handle"), can_edit=workflow.can_edit(user, data["report"]),
        can_original=user.can("handle")), status


@bp.get("/reports/<code>")
def detail(code: str):
    return render_detail(code)


@bp.post("/reports/<code>/action")
@requires("handle")
def action(code: str):
    change = workflow.change_from_form(request.form)
    try:
        photos = read_photos("media") if change.action == "rectify" else []
        workflow.act(get_store(), code, change, current_user().username, settings(), photo_files(), photos,
                     request.remote_addr)
    except GisappError as exc:
        if exc.status == 404:
            raise
        return render_detail(code, exc.message(current_lang()), exc.status)
    return redirect(url_for("reports.detail", code=code))


@bp.post("/reports/<code>/edit")
@requires("report")
def edit(code: str):
    try:
        workflow.edit(get_store(), code, current_user(), request.form, request.remote_addr)
    except GisappError as exc:
        if exc.status == 404:
            raise
        return render_detail(code, exc.message(current_lang()), exc.status)
    return redirect(url_for("reports.detail", code=code))


@bp.get("/reports/photo/<int:photo_id>/<variant>")
def photo(photo_id: int, variant: str):
    """A display copy or thumbnail (no EXIF); originals (with GPS) for handlers only."""
    return send_photo("report_photos", photo_id, variant)


PHOTO_COLUMNS = {"display": "display_path", "thumb": "thumb_path", "original": "original_path"}


def send_photo(table: str, photo_id: int, variant: str) -> Response:
    """One file of a photo row of ``table`` (report or progress photos), with the same rules:
    display copies and thumbnails for readers, originals for users who may handle reports."""
    if variant not in PHOTO_COLUMNS:
        raise_not_found()
    if variant == "original" and not current_user().can("handle"):
        raise Forbidden({"zh": "原图仅供处置人员查看", "en": "originals are for handlers only"})
    df = get_store().read(table, where={"fid": photo_id}, columns=[PHOTO_COLUMNS[variant], "content_type"])
    if df.empty:
        raise_not_found()
    path = photo_files().absolute(df.iloc[0][PHOTO_COLUMNS[variant]])
    mimetype = df.iloc[0]["content_type"] if variant == "original" else "image/jpeg"
    response: Response = send_file(path, mimetype=mimetype, max_age=3600, conditional=True)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def raise_not_found():
    raise NotFound({"zh": "照片不存在", "en": "no such photo"})


# --- bulk import (admin) ------------------------------------------------------------

def import_targets() -> list[tuple[str, str]]:
    lang = current_lang()
    return [("reports", {"zh": "问题上报（自动分派到社区、网格、街巷）", "en": "Field reports (assigned automatically)"}[lang])] + \
        [(layer.id, layer.title.get(lang)) for layer in get_registry()]


def job_from_request() -> importjobs.Job:
    f = request.files.get("file")
    if f is None or not f.filename:
        raise ValidationFailed({"zh": "请选择要导入的文件", "en": "choose a file to import"})
    form = request.form
    options = Options(encoding=form.get("encoding") or None, src_crs=form.get("src_crs") or None,
                      coords=form.get("coords") or "wgs84", layer=form.get("layer") or None,
                      lon_col=form.get("lon_col") or None, lat_col=form.get("lat_col") or None)
    mapping = {k: form.get(f"map_{k}") for k in IMPORT_FIELDS if form.get(f"map_{k}")}
    return importjobs.create_job(settings().uploads, f.filename, f.read(), form.get("target") or "reports", options,
                                 mapping, form.get("source") or "inspection")


def plan_job(job: importjobs.Job, actor: str) -> bulk.Plan:
    try:
        plan = bulk.plan_import(get_store(), job.path, job.target, settings(), job.options, job.mapping, job.source, actor)
    except GisappError:
        importjobs.remove_job(job)
        raise
    plan.report["file"] = job.filename
    return plan


@bp.route("/reports/import", methods=["GET", "POST"])
@requires("admin")
def import_form():
    if request.method == "GET":
        return render_template("report_import.html", targets=import_targets(), labels=labels(), plan=None)
    job = job_from_request()
    plan = plan_job(job, current_user().username)
    plan.preview["outline"] = outline(get_store())
    return render_template("report_import.html", targets=import_targets(), labels=labels(), plan=plan, job=job)


@bp.post("/reports/import/<token>")
@requires("admin")
def import_run(token: str):
    job = importjobs.load_job(settings().uploads, token)
    plan = plan_job(job, current_user().username)
    result = bulk.run_import(get_store(), plan, current_user().username, request.remote_addr)
    importjobs.remove_job(job)
    return render_template("report_import.html", targets=import_targets(), labels=labels(), plan=None, result=result)


from . import reports_api  # noqa: E402,F401  (the API routes on this blueprint)
