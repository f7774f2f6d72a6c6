"""Administration: the audit trail (browse, export) and accounts. Admins only."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, redirect, render_template, request, url_for

from .. import auth
from ..db import get_store
from ..errors import BadRequest
from ..i18n import current_lang
from .auth import actor

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE = 50
AUDIT_COLUMNS = ["at", "actor", "remote_addr", "action", "target_table", "target_id", "summary", "before", "after"]


def audit_filters(args) -> dict:
    """Equality filters on actor, table, action; a date range on the time."""
    where: dict = {}
    for param, column in (("actor", "actor"), ("table", "target_table"), ("action", "action")):
        if args.get(param):
            where[column] = args[param][:100]
    span = {}
    for param, op, suffix in (("from", ">=", ""), ("to", "<=", "T23:59:59.999Z")):
        value = args.get(param, "")
        if value:
            if len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.replace("-", "").isdigit():
                raise BadRequest({"zh": f"参数 {param} 应为 YYYY-MM-DD", "en": f"{param} must be YYYY-MM-DD"})
            span[op] = value + suffix
    if span:
        where["at"] = span
    return where


@bp.get("/")
def index():
    return redirect(url_for("admin.audit"))


@bp.get("/audit")
def audit():
    store = get_store()
    where = audit_filters(request.args)
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        raise BadRequest({"zh": "页码无效", "en": "bad page number"}) from None
    total = store.count("audit", where=where)
    rows = store.read("audit", where=where, order_by="-at", limit=PAGE, offset=(page - 1) * PAGE)
    return render_template("admin_audit.html", rows=rows.reset_index().to_dict("records"), total=total,
                           page=page, pages=max(1, -(-total // PAGE)), args=request.args, lang=current_lang())


@bp.get("/audit.csv")
def audit_csv():
    """The filtered audit trail as CSV (UTF-8 with BOM, so Excel shows Chinese)."""
    rows = get_store().read("audit", where=audit_filters(request.args), order_by="-at", columns=AUDIT_COLUMNS)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["id", *AUDIT_COLUMNS])
    for fid, row in zip(rows.index, rows.itertuples(index=False)):
        writer.writerow([fid, *["" if v is None else _cell(v) for v in row]])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=gisapp-audit.csv"})


def _cell(value) -> str:
    """Spreadsheet programs run cells starting with = + - @ as formulas: neutralise them."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.route("/users", methods=["GET", "POST"])
def users():
    store = get_store()
    message = None
    if request.method == "POST":
        form = request.form
        auth.create_user(store, form.get("username", "").strip(), form.get("password", ""), form.get("role", ""),
                         actor(), display_name=form.get("display_name") or None, unit=form.get("unit") or None)
        message = {"zh": "已创建用户", "en": "user created"}[current_lang()]
    rows = store.read("users", columns=["username", "display_name", "role", "unit", "active", "created_at"])
    return render_template("admin_users.html", rows=rows.to_dict("records"), message=message, lang=current_lang())
