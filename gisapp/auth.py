"""Accounts, roles and permissions: plain functions over the store.

Roles (what each may do):
- viewer   (planner): read everything internal
- field    (网格员): read, report problems, edit own open reports
- handler  (community / support-unit staff): read, record progress, handle reports
- official: read, snapshots and exports
- admin:   everything, plus users, layers, imports, settings, the audit trail
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import pandas as pd
from werkzeug.security import check_password_hash, generate_password_hash

from .errors import Conflict, ValidationFailed
from .storage import Store
from .storage.base import utcnow

ROLES = {
    "viewer": {"zh": "浏览（规划）", "en": "Viewer (planner)"},
    "field": {"zh": "网格员", "en": "Field staff"},
    "handler": {"zh": "处置人员", "en": "Handler"},
    "official": {"zh": "领导", "en": "Official"},
    "admin": {"zh": "管理员", "en": "Administrator"},
}
PERMISSIONS = {
    "viewer": {"read"},
    "field": {"read", "report"},
    "handler": {"read", "progress", "handle"},
    "official": {"read", "snapshot", "export"},
    "admin": {"read", "report", "progress", "handle", "snapshot", "export", "admin"},
}
MAX_FAILURES = 5  # failed log-ins per user name or address ...
FAILURE_WINDOW = dt.timedelta(minutes=10)  # ... within this window lock log-in out
MIN_PASSWORD = 8


@dataclass(frozen=True)
class User:
    username: str
    role: str
    display_name: str | None = None
    unit: str | None = None  # community code or support unit a handler answers for

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, set())


def _user(row) -> User:
    return User(row["username"], row["role"], row.get("display_name"), row.get("unit"))


def get_user(store: Store, username: str) -> User | None:
    df = store.read("users", where={"username": username, "active": True})
    return None if df.empty else _user(df.iloc[0].to_dict())


def create_user(store: Store, username: str, password: str, role: str, actor: str,
                display_name: str | None = None, unit: str | None = None) -> User:
    if role not in ROLES:
        raise ValidationFailed({"zh": f"未知角色：{role}", "en": f"unknown role: {role}"})
    if not username or len(username) > 64 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise ValidationFailed({"zh": "用户名只能包含字母、数字和 . _ -", "en": "user names use letters, digits and . _ -"})
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed({"zh": f"密码至少 {MIN_PASSWORD} 位", "en": f"passwords have at least {MIN_PASSWORD} characters"})
    if store.count("users", where={"username": username}):
        raise Conflict({"zh": f"用户 {username} 已存在", "en": f"user {username} exists"})
    row = {"username": username, "display_name": display_name, "role": role, "unit": unit,
           "password_hash": generate_password_hash(password), "active": True, "created_at": utcnow()}
    with store.writer(actor) as w:
        w.insert("users", pd.DataFrame([row]), summary=f"user {username} ({role})")
    return User(username, role, display_name, unit)


def authenticate(store: Store, username: str, password: str) -> User | None:
    df = store.read("users", where={"username": username, "active": True})
    if df.empty or not df.iloc[0]["password_hash"]:
        check_password_hash(generate_password_hash("x"), password)  # same cost for unknown users
        return None
    row = df.iloc[0].to_dict()
    return _user(row) if check_password_hash(row["password_hash"], password) else None


def too_many_failures(store: Store, username: str, remote_addr: str | None) -> bool:
    since = (dt.datetime.now(dt.timezone.utc) - FAILURE_WINDOW).strftime("%Y-%m-%dT%H:%M:%S")
    by_name = store.count("login_attempts", where={"username": username, "ok": False, "at": {">=": since}})
    by_addr = store.count("login_attempts", where={"remote_addr": remote_addr, "ok": False, "at": {">=": since}})
    return by_name >= MAX_FAILURES or by_addr >= MAX_FAILURES * 4


def record_attempt(store: Store, username: str, remote_addr: str | None, ok: bool) -> None:
    with store.writer(username or "anonymous", remote_addr) as w:
        w.insert("login_attempts", pd.DataFrame([{"at": utcnow(), "username": username[:64],
                                                  "remote_addr": remote_addr, "ok": ok}]),
                 summary="log-in " + ("ok" if ok else "failed"))


def token_digest(token: str) -> str:
    """What is stored of a token (and what caches key it by): its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, username: str, label: str, actor: str) -> str:
    """A new API token for a user; only its hash is stored. Returns the token (shown once)."""
    if get_user(store, username) is None:
        raise ValidationFailed({"zh": f"没有用户 {username}", "en": f"no user {username}"})
    token = "gis_" + secrets.token_urlsafe(32)
    with store.writer(actor) as w:
        w.insert("api_tokens", pd.DataFrame([{"token_hash": token_digest(token), "username": username,
                                              "label": label, "created_at": utcnow()}]),
                 summary=f"API token for {username}")
    return token


def user_for_token(store: Store, token: str) -> User | None:
    df = store.read("api_tokens", where={"token_hash": token_digest(token)}, columns=["username"])
    return None if df.empty else get_user(store, df.iloc[0]["username"])


def _delete_tokens(store: Store, where: dict, actor: str) -> int:
    fids = store.read("api_tokens", where=where, columns=["username"], geometry=False).index
    if len(fids):
        with store.writer(actor) as w:
            for fid in fids:
                w.delete("api_tokens", int(fid))
    return len(fids)


def revoke_token(store: Store, token: str, actor: str) -> bool:
    """Remove one API token (given in full). Returns whether it existed."""
    return _delete_tokens(store, {"token_hash": token_digest(token)}, actor) > 0


def revoke_tokens(store: Store, username: str, actor: str, label: str | None = None) -> int:
    """Remove a user's API tokens (only those with ``label`` if given). Returns how many."""
    return _delete_tokens(store, {"username": username, **({"label": label} if label is not None else {})}, actor)
