"""One error hierarchy with user-safe messages.

Domain code raises these without knowing HTTP; :func:`init_app` maps them to
one JSON shape under ``/api`` and to an HTML page elsewhere.
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Configuration or environment problem that stops the app before it serves."""


class GisappError(Exception):
    """Base of errors caused by what a user sent. ``message`` is shown to users."""

    status = 400
    code = "bad_request"

    def __init__(self, message: dict[str, str] | str, **detail):
        if isinstance(message, str):
            message = {"zh": message, "en": message}
        self.messages = message
        self.detail = detail
        super().__init__(message.get("en"))

    def message(self, lang: str = "zh") -> str:
        return self.messages.get(lang) or self.messages.get("zh") or ""


class BadRequest(GisappError):
    pass


class ValidationFailed(GisappError):
    status = 422
    code = "invalid"


class NotFound(GisappError):
    status = 404
    code = "not_found"


class Forbidden(GisappError):
    status = 403
    code = "forbidden"


class Conflict(GisappError):
    status = 409
    code = "conflict"


class StoreError(StartupError):
    """The store cannot be opened or written (permissions, missing folder...)."""


_HTTP_MESSAGES = {
    404: {"zh": "页面或数据不存在。", "en": "Not found."},
    405: {"zh": "不支持该请求方法。", "en": "Method not allowed."},
    413: {"zh": "上传内容过大。", "en": "Request too large."},
}
_GENERIC = {"zh": "请求无法处理。", "en": "The request could not be processed."}
_INTERNAL = {"zh": "服务器内部错误，请稍后再试。", "en": "Internal server error, please try again later."}


def _respond(status: int, code: str, message: str):
    from .i18n import current_lang

    if request.path.startswith(("/api", "/ogcapi")):
        body = {"error": {"status": status, "code": code, "message": message}}
        return jsonify(body), status
    return render_template("error.html", status=status, message=message, lang=current_lang()), status


def error_response(exc: GisappError):
    """The response for a domain error: JSON under /api, an HTML page elsewhere."""
    from .i18n import current_lang
    return _respond(exc.status, exc.code, exc.message(current_lang()))


def init_app(app: Flask) -> None:
    from .i18n import current_lang

    app.errorhandler(GisappError)(error_response)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        text = _HTTP_MESSAGES.get(exc.code, _GENERIC)[current_lang()]
        return _respond(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), text)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s", request.path)
        return _respond(500, "internal", _INTERNAL[current_lang()])
