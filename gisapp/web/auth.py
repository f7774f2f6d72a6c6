"""Log-in, sessions, API tokens, CSRF and the access rule every request passes.

Default deny: each endpoint needs a permission, taken from the view (``@requires``),
else from its blueprint's default below; an endpoint with neither is refused.
"""
from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, current_app, g, redirect, render_template, request, session,
                   url_for)
from flask_wtf.csrf import CSRFError, CSRFProtect

from .. import auth
from ..db import get_store
from ..errors import Forbidden, GisappError, error_response

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()

PUBLIC_ENDPOINTS = {"static", "auth.login", "auth.logout", "api.health"}
# what anonymous visitors may open when PUBLIC_VIEW is on (public layers and fields only)
PUBLIC_VIEW_ENDPOINTS = {"map.index", "api.map_layer", "api.map_popup", "api.search_features", "api.dashboard_json"}
ENDPOINT_PERMISSIONS = {"exports.openapi_json": "read"}  # exceptions to a blueprint's default
BLUEPRINT_DEFAULTS = {"map": "read", "api": "read", "ogcapi": "read", "snapshots": "snapshot",
                      "exports": "export", "admin": "admin", "reports": "read", "ledger": "progress",
                      "editing": "admin"}


TOKEN_CACHE_TTL_S = 30.0  # at most this long after a change the store's data version does not show
TOKEN_CACHE_SIZE = 1024


class TokenCache:
    """API token -> user, per process, so that a token request does not read two tables every time.

    Keyed by the token's SHA-256. An entry is used only while the store's ``data_version`` is the one
    it was read at (every write through the store bumps it: a revoked token, a disabled or changed
    user is refused on the next request, in every worker) and for at most ``ttl`` seconds (changes
    made behind the store's back, a restore). Unknown tokens are not cached.
    """

    def __init__(self, ttl: float = TOKEN_CACHE_TTL_S, size: int = TOKEN_CACHE_SIZE):
        self.ttl, self.size = ttl, size
        self.entries: dict[str, tuple[auth.User, int, float]] = {}
        self.lock = threading.Lock()
        self.clock = time.monotonic

    def user(self, store, token: str) -> auth.User | None:
        key = auth.token_digest(token)
        version = store.data_version()  # before the lookup: a write meanwhile only makes the next request look again
        now = self.clock()
        hit = self.entries.get(key)
        if hit is not None and hit[1] == version and now - hit[2] < self.ttl:
            return hit[0]
        user = auth.user_for_token(store, token)
        with self.lock:
            if user is None:
                self.entries.pop(key, None)
            else:
                if len(self.entries) >= self.size:
                    self.entries.clear()
                self.entries[key] = (user, version, now)
        return user


class Unauthorized(GisappError):
    status = 401
    code = "unauthorized"


class TooManyAttempts(GisappError):
    status = 429
    code = "too_many_attempts"


def requires(permission: str):
    """Marks a view with the permission it needs."""
    def mark(view):
        view.permission = permission
        return view
    return mark


def permission_for(app: Flask, endpoint: str | None) -> str | None:
    """'public', a permission name, or None (unknown: refused)."""
    if endpoint is None:
        return "public"  # 404/405: let the error handlers answer
    if endpoint in PUBLIC_ENDPOINTS:
        return "public"
    view = app.view_functions.get(endpoint)
    explicit = getattr(view, "permission", None) or ENDPOINT_PERMISSIONS.get(endpoint)
    return explicit or BLUEPRINT_DEFAULTS.get(endpoint.split(".")[0])


def current_user() -> auth.User | None:
    return g.get("user")


def actor() -> str:
    user = current_user()
    return user.username if user else "anonymous"


def _load_user() -> None:
    g.user, g.public, g.token_auth = None, False, False
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        g.user = current_app.extensions["gisapp_tokens"].user(get_store(), header[7:].strip())
        g.token_auth = g.user is not None
        if g.user is None:
            raise Unauthorized({"zh": "接口令牌无效", "en": "invalid API token"})
    elif session.get("user"):
        g.user = auth.get_user(get_store(), session["user"])
        if g.user is None:
            session.clear()


def _deny():
    if current_user() is not None:
        raise Forbidden({"zh": "您的角色无权进行此操作", "en": "your role does not allow this"})
    if request.path.startswith("/api") or request.path.startswith("/ogcapi") or request.method != "GET":
        raise Unauthorized({"zh": "请先登录", "en": "please log in"})
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def check_access():
    _load_user()
    needed = permission_for(current_app, request.endpoint)
    if not g.token_auth and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()  # unsafe methods only
    if needed == "public":
        return None
    user = current_user()
    if user is None and current_app.config["PUBLIC_VIEW"] and request.endpoint in PUBLIC_VIEW_ENDPOINTS:
        g.public = True
        return None
    if user is None or needed is None or not user.can(needed):
        return _deny()
    return None


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/"):
        return url_for("map.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        store = get_store()
        username = (request.form.get("username") or "").strip()[:64]
        if auth.too_many_failures(store, username, request.remote_addr):
            raise TooManyAttempts({"zh": "登录失败次数过多，请 10 分钟后再试", "en": "too many failed log-ins, try again in 10 minutes"})
        user = auth.authenticate(store, username, request.form.get("password") or "")
        auth.record_attempt(store, username, request.remote_addr, user is not None)
        if user is not None:
            session.clear()
            session["user"] = user.username
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        error = {"zh": "用户名或密码错误", "en": "wrong user name or password"}
    status = 401 if error else 200
    return render_template("login.html", error=error, next=request.args.get("next", "")), status


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    app.extensions["gisapp_tokens"] = TokenCache()
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked in check_access, unless token-authenticated
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session
    csrf.init_app(app)
    app.before_request(check_access)
    app.register_blueprint(bp)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(Forbidden({"zh": "表单已过期或来源不明，请刷新页面后重试",
                                         "en": "the form expired or came from elsewhere; reload the page and try again"}))

    @app.context_processor
    def user_in_templates():
        return {"current_user": current_user(), "roles": auth.ROLES}
