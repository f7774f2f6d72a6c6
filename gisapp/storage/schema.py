"""Table specifications shared by every storage backend.

Layer tables come from the registry; the core tables (progress records,
activity log, support units, field reports, users, audit, meta) are fixed here.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import LayerDef, Registry
from ..vocab import CATEGORIES, QUANTITIES, REPORT_SOURCES, REPORT_STATES, STATUSES

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # GeoPackage type names: TEXT, INTEGER, REAL, DATE, DATETIME, BOOLEAN
    not_null: bool = False
    unique: bool = False
    check: str | None = None  # a SQL condition on this column (portable SQL only)


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str
    columns: tuple[Column, ...]
    geometry_type: str | None = None  # None: attribute table
    indexes: tuple[tuple[str, ...], ...] = ()
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def spatial(self) -> bool:
        return self.geometry_type is not None


def _in(values) -> str:
    return "IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def layer_spec(layer: LayerDef) -> TableSpec:
    cols = tuple(Column(f.name, f.sql_type, not_null=f.required, unique=f.unique) for f in layer.fields)
    indexes = ((layer.community_field,),) if layer.community_field else ()
    return TableSpec(layer.table, layer.title.zh, cols, layer.geometry, indexes, layer.title.en)


PROGRESS = TableSpec(
    "progress", "进度记录",
    (
        Column("layer", "TEXT", not_null=True),
        Column("feature_code", "TEXT", not_null=True),
        Column("record_date", "DATE", not_null=True),
        Column("status", "TEXT", not_null=True, check=_in(STATUSES)),
        Column("percent", "REAL", check="BETWEEN 0 AND 100"),
        *(Column(q, "REAL", check=">= 0") for q in QUANTITIES),
        Column("note", "TEXT"),
        Column("author", "TEXT", not_null=True),
        Column("created_at", "DATETIME", not_null=True),
    ),
    indexes=(("layer", "feature_code", "record_date"), ("record_date",)),
    description="Dated progress records; quantities are cumulative as of record_date",
)

ACTIVITY_LOG = TableSpec(
    "activity_log", "工作台账",
    (
        Column("log_date", "DATE", not_null=True),
        Column("community_code", "TEXT"),
        Column("kind", "TEXT", not_null=True),
        Column("quantity", "REAL", not_null=True, check=">= 0"),
        Column("note", "TEXT"),
        Column("author", "TEXT", not_null=True),
        Column("created_at", "DATETIME", not_null=True),
    ),
    indexes=(("kind", "log_date"),),
    description="Counted campaign work that is not mapped feature by feature",
)

SUPPORT_UNITS = TableSpec(
    "support_units", "创文帮挂单位",
    (
        Column("name", "TEXT", not_null=True),
        Column("community_code", "TEXT", not_null=True),
        Column("contact", "TEXT"),
    ),
    description="Units paired with communities (帮挂单位)",
)

REPORTS = TableSpec(
    "reports", "问题上报",
    (
        Column("code", "TEXT", not_null=True, unique=True),
        Column("category", "TEXT", not_null=True, check=_in(CATEGORIES)),
        Column("description", "TEXT"),
        Column("status", "TEXT", not_null=True, check=_in(REPORT_STATES)),
        Column("source", "TEXT", not_null=True, check=_in(REPORT_SOURCES)),
        Column("community_code", "TEXT"),
        Column("reported_at", "DATETIME", not_null=True),
        Column("closed_at", "DATETIME"),
        Column("reporter", "TEXT"),
        # field reports (gisapp.reports): position, automatic assignment, duplicates, workflow
        Column("position_source", "TEXT"),  # geolocation | exif | map | import
        Column("accuracy_m", "REAL"),
        Column("grid_code", "TEXT"),
        Column("lane_code", "TEXT"),
        Column("lane_alternatives", "TEXT"),  # other lanes about as near, comma-separated codes
        Column("lane_distance_m", "REAL"),
        Column("compound_code", "TEXT"),
        Column("market_code", "TEXT"),
        Column("feature_layer", "TEXT"),  # optional link to a work feature
        Column("feature_code", "TEXT"),
        Column("duplicate_of", "TEXT"),  # code of the open report this one may repeat
        Column("duplicate_state", "TEXT"),  # suspected | dismissed | merged
        Column("dispatch_kind", "TEXT"),  # community | unit
        Column("dispatch_to", "TEXT"),  # community code or support-unit name
        Column("assignee", "TEXT"),  # the handler who took the case
        Column("due_at", "DATETIME"),
        Column("updated_at", "DATETIME"),
        Column("client_key", "TEXT"),  # the sender's key for this report: a retried upload is stored once
    ),
    geometry_type="Point",
    # (reported_at, fid): the handlers' lists, newest first and paged, read from the index
    indexes=(("status",), ("community_code",), ("reported_at", "fid"), ("source", "status"), ("client_key",)),
    description="Problems reported in the field, found by inspection or raised by residents",
)

REPORT_PHOTOS = TableSpec(
    "report_photos", "问题照片",
    (
        Column("report_code", "TEXT", not_null=True),
        Column("kind", "TEXT", not_null=True, check="IN ('before', 'after')"),
        Column("original_path", "TEXT", not_null=True),  # relative to the private upload folder
        Column("display_path", "TEXT", not_null=True),
        Column("thumb_path", "TEXT", not_null=True),
        Column("sha256", "TEXT", not_null=True),
        Column("content_type", "TEXT"),
        Column("bytes", "INTEGER"),
        Column("width", "INTEGER"),
        Column("height", "INTEGER"),
        Column("taken_at", "DATETIME"),
        Column("taken_at_source", "TEXT"),  # gps | exif | upload
        Column("exif_lat", "REAL"),  # private: never public, never in display copies
        Column("exif_lon", "REAL"),
        Column("exif_alt", "REAL"),
        Column("uploaded_by", "TEXT", not_null=True),
        Column("uploaded_at", "DATETIME", not_null=True),
    ),
    indexes=(("report_code",),),
    description="Photos of field reports: private originals, display copies and thumbnails without EXIF",
)

PROGRESS_PHOTOS = TableSpec(
    "progress_photos", "进度照片",
    (
        Column("progress_fid", "INTEGER", not_null=True),  # the progress record (its fid)
        Column("layer", "TEXT", not_null=True),
        Column("feature_code", "TEXT", not_null=True),
        Column("original_path", "TEXT", not_null=True),  # relative to the private upload folder
        Column("display_path", "TEXT", not_null=True),
        Column("thumb_path", "TEXT", not_null=True),
        Column("sha256", "TEXT", not_null=True),
        Column("content_type", "TEXT"),
        Column("bytes", "INTEGER"),
        Column("width", "INTEGER"),
        Column("height", "INTEGER"),
        Column("taken_at", "DATETIME"),
        Column("uploaded_by", "TEXT", not_null=True),
        Column("uploaded_at", "DATETIME", not_null=True),
    ),
    indexes=(("layer", "feature_code"), ("progress_fid",)),
    description="Photos of progress records: private originals, display copies and thumbnails without EXIF",
)

REPORT_EVENTS = TableSpec(
    "report_events", "问题处置记录",
    (
        Column("report_code", "TEXT", not_null=True),
        Column("at", "DATETIME", not_null=True),
        Column("actor", "TEXT", not_null=True),
        Column("action", "TEXT", not_null=True),
        Column("from_status", "TEXT"),
        Column("to_status", "TEXT"),
        Column("target", "TEXT"),  # dispatch target, merged-into code...
        Column("note", "TEXT"),
    ),
    indexes=(("report_code", "at"),),
    description="Every workflow transition of a field report: who, when, from, to, note",
)

USERS = TableSpec(
    "users", "用户",
    (
        Column("username", "TEXT", not_null=True, unique=True),
        Column("display_name", "TEXT"),
        Column("role", "TEXT", not_null=True),
        Column("unit", "TEXT"),
        Column("password_hash", "TEXT"),
        Column("active", "BOOLEAN", not_null=True),
        Column("created_at", "DATETIME", not_null=True),
    ),
    description="Accounts; passwords are stored as salted hashes",
)

API_TOKENS = TableSpec(
    "api_tokens", "接口令牌",
    (
        Column("token_hash", "TEXT", not_null=True, unique=True),
        Column("username", "TEXT", not_null=True),
        Column("label", "TEXT"),
        Column("created_at", "DATETIME", not_null=True),
    ),
    description="API tokens (SHA-256 of the token; the token itself is shown once)",
)

LOGIN_ATTEMPTS = TableSpec(
    "login_attempts", "登录记录",
    (
        Column("at", "DATETIME", not_null=True),
        Column("username", "TEXT"),
        Column("remote_addr", "TEXT"),
        Column("ok", "BOOLEAN", not_null=True),
    ),
    indexes=(("username", "at"), ("remote_addr", "at")),
    description="Log-in attempts, for rate limiting",
)

AUDIT = TableSpec(
    "audit", "操作审计",
    (
        Column("at", "DATETIME", not_null=True),
        Column("actor", "TEXT", not_null=True),
        Column("remote_addr", "TEXT"),
        Column("action", "TEXT", not_null=True),
        Column("target_table", "TEXT"),
        Column("target_id", "TEXT"),
        Column("summary", "TEXT"),
        Column("before", "TEXT"),
        Column("after", "TEXT"),
    ),
    indexes=(("at",), ("target_table", "target_id")),
    description="Who changed what, when and from where (before/after as JSON)",
)

META = TableSpec(
    "gisapp_meta", "系统信息",
    (Column("key", "TEXT", not_null=True, unique=True), Column("value", "TEXT")),
)

CORE_TABLES = (PROGRESS, ACTIVITY_LOG, SUPPORT_UNITS, REPORTS, REPORT_PHOTOS, PROGRESS_PHOTOS, REPORT_EVENTS, USERS,
               API_TOKENS, LOGIN_ATTEMPTS, AUDIT, META)


def all_specs(registry: Registry) -> dict[str, TableSpec]:
    specs = {layer.table: layer_spec(layer) for layer in registry}
    for spec in CORE_TABLES:
        if spec.name in specs:
            raise ValueError(f"layer id '{spec.name}' collides with a core table")
        specs[spec.name] = spec
    return specs
