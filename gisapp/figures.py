"""The published figures, computed from stored records.

``layers/figures.toml`` declares each figure: its labels, the published
value, and the aggregation over the store that must reproduce it.
"""
from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .progress import feature_state
from .registry import Registry, RegistryError, Title
from .storage import Store
from .vocab import QUANTITIES, STATUSES

# Date column of each table for "as of" figures (None: the table is undated).
TABLE_DATES = {"activity_log": "log_date", "reports": "reported_at", "support_units": None}


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    layer: str | None = None
    table: str | None = None
    measure: Literal["count", "sum"]
    quantity: str | None = None
    column: str | None = None
    status: tuple[str, ...] = ()
    where: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def consistent(self) -> "Source":
        if (self.layer is None) == (self.table is None):
            raise ValueError("give exactly one of 'layer' or 'table'")
        if self.layer and self.measure == "sum" and self.quantity not in QUANTITIES:
            raise ValueError("a layer sum needs 'quantity', one of " + ", ".join(QUANTITIES))
        if self.table and self.table not in TABLE_DATES:
            raise ValueError(f"table must be one of {', '.join(TABLE_DATES)}")
        if self.table and self.measure == "sum" and not self.column:
            raise ValueError("a table sum needs 'column'")
        for s in self.status:
            if s not in STATUSES:
                raise ValueError(f"unknown status '{s}'")
        return self


class Figure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Title
    published: float
    comparison: Literal["exact", "at_least"] = "exact"
    unit: dict[str, str]
    source: Source


def load_figures(path: str | Path, registry: Registry) -> list[Figure]:
    path = Path(path)
    try:
        items = tomllib.loads(path.read_text(encoding="utf-8")).get("figures", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(f"{path}: cannot read figures: {exc}") from None
    figures = []
    for i, item in enumerate(items):
        try:
            fig = Figure.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise RegistryError(f"{path}: figures[{i}] field '{loc}': {err['msg']}") from None
        src = fig.source
        if src.layer:
            if src.layer not in registry:
                raise RegistryError(f"{path}: figures[{i}] field 'source.layer': unknown layer '{src.layer}'")
            layer = registry.get(src.layer)
            if src.quantity and src.quantity not in layer.quantity_keys:
                raise RegistryError(f"{path}: figures[{i}] field 'source.quantity': layer '{src.layer}' "
                                    f"does not carry '{src.quantity}'")
        figures.append(fig)
    return figures


class _Cache:
    def __init__(self, store: Store, as_of, community):
        self.store, self.as_of, self.community, self.states = store, as_of, community, {}

    def state(self, layer_id: str):
        if layer_id not in self.states:
            layer = self.store.registry.get(layer_id)
            column = "code" if layer_id == "communities" else layer.community_field
            features = self.store.read(layer_id, where={column: self.community} if self.community and column else None,
                                       geometry=False)
            records = self.store.progress(layer_id, until=self.as_of)
            self.states[layer_id] = feature_state(features, records, layer_id, layer.link_field,
                                                  quantities=layer.quantity_keys)
        return self.states[layer_id]


def _layer_value(src: Source, cache: _Cache, statuses) -> float:
    df = cache.state(src.layer)
    for col, value in src.where.items():
        df = df[df[col] == value]
    for wanted in (src.status, statuses if cache.store.registry.get(src.layer).progress else ()):
        if wanted:
            df = df[df["status"].isin(wanted)]
    return float(len(df)) if src.measure == "count" else float(df[src.quantity].fillna(0).sum())


def _table_value(src: Source, store: Store, as_of, community) -> float:
    where: dict[str, Any] = dict(src.where)
    if community and "community_code" in store.spec(src.table).column_names:
        where["community_code"] = community
    date_col = TABLE_DATES[src.table]
    if as_of is not None and date_col:
        where[date_col] = {"<=": as_of.isoformat() + ("T23:59:59Z" if date_col.endswith("_at") else "")}
    if src.measure == "count":
        return float(store.count(src.table, where=where))
    return float(store.read(src.table, where=where, columns=[src.column])[src.column].fillna(0).sum())


def compute(store: Store, figures: list[Figure], as_of: dt.date | None = None,
            community: str | None = None, statuses: tuple[str, ...] = ()) -> list[dict]:
    """Each figure with its computed value beside the published one.

    ``community`` restricts every source to one community; ``statuses`` keeps only
    works whose latest status is listed (tables are not affected by it).
    """
    cache = _Cache(store, as_of, community)
    out = []
    for fig in figures:
        src = fig.source
        value = _layer_value(src, cache, statuses) if src.layer else _table_value(src, store, as_of, community)
        ok = value == fig.published if fig.comparison == "exact" else value >= fig.published
        out.append({
            "key": fig.key, "label": {"zh": fig.label.zh, "en": fig.label.en},
            "value": int(value) if value.is_integer() else value, "published": fig.published,
            "comparison": fig.comparison, "unit": fig.unit, "matches": bool(ok),
        })
    return out
