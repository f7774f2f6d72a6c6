"""The field-report JSON API, for the phone page and a future phone app.

Field names follow Open311 GeoReport v2 where they fit (service_code, lat/long,
media_url, status, status_notes…); see docs/reports.md. Photos are sent as
multipart ``media`` files. Sessions need the CSRF header; API tokens do not.
"""
from __future__ import annotations

from flask import jsonify, request, url_for

from ..db import get_store
from ..errors import ValidationFailed
from ..i18n import current_lang
from ..reports import bulk, importjobs, queries, service, workflow
from .auth import current_user, requires
from .reports import bp, community_names, job_from_request, photo_files, plan_job, read_photos, settings

OPEN311_STATUS = {"open": list(workflow.OPEN), "closed": ["closed"]}


def _media_urls(photos: list[dict]) -> list[dict]:
    return [{**p, "media_url": url_for("reports.photo", photo_id=p["id"], variant="display", _external=True),
             "thumb_url": url_for("reports.photo", photo_id=p["id"], variant="thumb", _external=True)} for p in photos]


def request_json(code: str) -> dict:
    """One report: the Open311 request, its events, photos, duplicates and the actions open to it."""
    data = queries.detail(get_store(), code)
    photos = _media_urls(data["photos"])
    first = next((p["media_url"] for p in photos if p["kind"] == "before"), None)
    names = community_names()
    req = queries.open311(data["report"], data["lon"], data["lat"], current_lang(), first,
                          names.get(data["report"].get("community_code")))
    return {"fid": data["fid"], "service_request": {**req, "overdue": data["overdue"],
                                "url": url_for("reports.detail", code=code, _external=True)},
            "events": data["events"], "photos": photos, "duplicates": data["duplicates"], "actions": data["actions"]}


@bp.get("/api/reports/services")
def api_services():
    return jsonify(services=queries.services(current_lang()))


@bp.get("/api/reports")
def api_list():
    args = request.args
    status = args.get("state") or None
    if args.get("status") in OPEN311_STATUS and not status:
        view = "closed" if args["status"] == "closed" else "open"
    else:
        view = args.get("view", "all")
    limit, offset = _int(args.get("limit"), 200), _int(args.get("offset"), 0)
    df, total = queries.list_reports(get_store(), view, current_user(), args.get("community") or None,
                                     args.get("service_code") or None, status, args.get("start_date") or None,
                                     args.get("end_date") or None, limit, offset, settings().due_days)
    names = community_names()
    gdf = df
    items = [{**queries.open311(r, g.x, g.y, current_lang(), None, names.get(r.get("community_code"))),
              "overdue": bool(r["overdue"])}
             for r, g in zip(gdf.drop(columns="geometry").to_dict("records"), gdf.geometry)] if len(gdf) else []
    return jsonify(service_requests=items, total=total, limit=limit, offset=offset)


def _int(value, default: int) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


@bp.get("/api/reports/communities")
def api_by_community():
    return jsonify(communities=queries.by_community(get_store(), settings().due_days))


@bp.post("/api/reports")
@requires("report")
def api_create():
    photos = read_photos("media")
    code = service.create_report(get_store(), photo_files(), settings(), request.form, photos,
                                 current_user().username, request.remote_addr)
    return jsonify(request_json(code)), 201


@bp.get("/api/reports/<code>")
def api_detail(code: str):
    return jsonify(request_json(code))


@bp.route("/api/reports/<code>", methods=["PATCH"])
@requires("report")
def api_edit(code: str):
    form = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(form, dict) and not hasattr(form, "get"):
        raise ValidationFailed({"zh": "请求内容无效", "en": "invalid request body"})
    workflow.edit(get_store(), code, current_user(), form or {}, request.remote_addr)
    return jsonify(request_json(code))


@bp.post("/api/reports/<code>/actions")
@requires("handle")
def api_action(code: str):
    form = (request.get_json(silent=True) or {}) if request.is_json else request.form
    change = workflow.change_from_form(form)
    photos = read_photos("media") if change.action == "rectify" else []
    workflow.act(get_store(), code, change, current_user().username, settings(), photo_files(), photos,
                 request.remote_addr)
    return jsonify(request_json(code))


@bp.post("/api/reports/<code>/photos")
@requires("report")
def api_add_photos(code: str):
    n = workflow.add_photos(get_store(), photo_files(), settings(), code, current_user(), read_photos("media"),
                            request.remote_addr)
    return jsonify({**request_json(code), "added": n}), 201


@bp.post("/api/reports/import")
@requires("admin")
def api_import():
    """A dry run: the report and a preview; POST to the returned URL to import."""
    job = job_from_request()
    plan = plan_job(job, current_user().username)
    return jsonify(token=job.token, report=plan.report, preview=plan.preview,
                   run_url=url_for("reports.api_import_run", token=job.token))


@bp.post("/api/reports/import/<token>")
@requires("admin")
def api_import_run(token: str):
    job = importjobs.load_job(settings().uploads, token)
    plan = plan_job(job, current_user().username)
    result = bulk.run_import(get_store(), plan, current_user().username, request.remote_addr)
    importjobs.remove_job(job)
    return jsonify(result=result, report=plan.report), 201
