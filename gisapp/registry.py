"""The layer registry: declarative layer definitions read from ``layers/*.toml``.

Loaded and validated once at start-up. A bad definition raises
:class:`RegistryError` naming the file and the field.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import StartupError
from .vocab import NO_RECORD_COLOR, QUANTITIES, STATUSES

IDENT = r"^[a-z][a-z0-9_]{0,39}$"
RESERVED_FILES = {"figures.toml"}
RESERVED_COLUMNS = {"fid", "geom"}
GEOMETRY_TYPES = ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon")
FIELD_TYPES = {"text": "TEXT", "integer": "INTEGER", "real": "REAL", "date": "DATE",
               "datetime": "DATETIME", "boolean": "BOOLEAN"}


class RegistryError(StartupError):
    """A layer definition is invalid; the message names the file and the field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Title(Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class FieldDef(Strict):
    name: str = Field(pattern=IDENT)
    type: Literal["text", "integer", "real", "date", "datetime", "boolean"]
    title: Title
    required: bool = False
    unique: bool = False
    private: bool = False  # personal data: never shown in public outputs

    @field_validator("name")
    @classmethod
    def not_reserved(cls, v: str) -> str:
        if v in RESERVED_COLUMNS:
            raise ValueError(f"'{v}' is reserved")
        return v

    @property
    def sql_type(self) -> str:
        return FIELD_TYPES[self.type]


class QuantityDef(Strict):
    key: str
    title: Title | None = None
    unit: Title | None = None

    @field_validator("key")
    @classmethod
    def known(cls, v: str) -> str:
        if v not in QUANTITIES:
            raise ValueError(f"unknown quantity '{v}', expected one of {', '.join(QUANTITIES)}")
        return v

    def label(self, lang: str) -> str:
        if self.title:
            return self.title.get(lang)
        return QUANTITIES[self.key]["en" if lang == "en" else "zh"]

    def unit_label(self, lang: str) -> str:
        if self.unit:
            return self.unit.get(lang)
        return QUANTITIES[self.key]["unit_en" if lang == "en" else "unit_zh"]


class Style(Strict):
    color: str = Field(default="#3949ab", pattern=r"^#[0-9a-fA-F]{6}$")
    weight: float = Field(default=2, ge=0, le=20)
    fill_opacity: float = Field(default=0.3, ge=0, le=1)
    radius: float = Field(default=5, ge=1, le=30)
    dash: str | None = None
    by_status: bool = False
    status_colors: dict[str, str] = Field(default_factory=dict)

    @field_validator("status_colors")
    @classmethod
    def known_statuses(cls, v: dict[str, str]) -> dict[str, str]:
        for key, color in v.items():
            if key not in STATUSES:
                raise ValueError(f"unknown status '{key}', expected one of {', '.join(STATUSES)}")
            if not re.match(r"^#[0-9a-fA-F]{6}$", color):
                raise ValueError(f"colour for '{key}' must look like #rrggbb")
        return v

    def status_color(self, status: str | None) -> str:
        if not self.by_status:
            return self.color
        if status is None:
            return NO_RECORD_COLOR
        return self.status_colors.get(status, STATUSES.get(status, {}).get("color", self.color))


class LayerDef(Strict):
    id: str = Field(pattern=IDENT)
    title: Title
    description: Title | None = None
    geometry: Literal[GEOMETRY_TYPES]  # type: ignore[valid-type]
    kind: Literal["admin", "work", "context"] = "work"
    order: int = 100
    visible: bool = True
    public: bool = False
    fields: tuple[FieldDef, ...] = Field(min_length=1)
    link_field: str = "code"
    name_field: str = "name"
    community_field: str | None = "community_code"
    progress: bool = False
    quantities: tuple[QuantityDef, ...] = ()
    popup: tuple[str, ...] = ()
    tooltip: str | None = None
    style: Style = Style()

    @field_validator("community_field")
    @classmethod
    def empty_is_none(cls, v: str | None) -> str | None:
        return v or None

    @model_validator(mode="after")
    def check_references(self) -> "LayerDef":
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("fields: duplicate field name")
        refs = [("link_field", self.link_field), ("name_field", self.name_field)]
        refs += [("community_field", self.community_field)] if self.community_field else []
        refs += [("tooltip", self.tooltip)] if self.tooltip else []
        refs += [("popup", p) for p in self.popup]
        for where, ref in refs:
            if ref not in names:
                raise ValueError(f"{where}: '{ref}' is not one of the layer's fields")
        clash = set(names) & ({"status", "percent", "status_date"} | set(QUANTITIES)) if self.progress else set()
        if clash:
            raise ValueError(f"fields: '{sorted(clash)[0]}' is a progress column name; rename the field")
        if self.quantities and not self.progress:
            raise ValueError("quantities: a layer without progress cannot carry quantities")
        link = self.field(self.link_field)
        if not (link.required and link.unique):
            raise ValueError(f"link_field: '{self.link_field}' must be required and unique")
        return self

    def field(self, name: str) -> FieldDef:
        return next(f for f in self.fields if f.name == name)

    @property
    def table(self) -> str:
        return self.id

    @property
    def quantity_keys(self) -> list[str]:
        return [q.key for q in self.quantities]

    @property
    def public_fields(self) -> list[str]:
        return [f.name for f in self.fields if not f.private]


class Registry:
    """All layer definitions, in display order, keyed by id."""

    def __init__(self, layers: list[LayerDef], folder: Path):
        self.folder = folder
        self.layers = {layer.id: layer for layer in sorted(layers, key=lambda l: (l.order, l.id))}

    def __iter__(self):
        return iter(self.layers.values())

    def __contains__(self, layer_id: str) -> bool:
        return layer_id in self.layers

    def __len__(self) -> int:
        return len(self.layers)

    def get(self, layer_id: str) -> LayerDef:
        return self.layers[layer_id]

    def with_progress(self) -> list[LayerDef]:
        return [layer for layer in self if layer.progress]


def _location(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def load_layer(path: Path) -> LayerDef:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from None
    try:
        layer = LayerDef.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise RegistryError(f"{path}: field '{_location(err['loc'])}': {err['msg']}") from None
    if layer.id != path.stem:
        raise RegistryError(f"{path}: field 'id': '{layer.id}' must match the file name '{path.stem}'")
    return layer


def load_registry(folder: str | Path) -> Registry:
    folder = Path(folder)
    if not folder.is_dir():
        raise RegistryError(f"layer folder not found: {folder}")
    files = sorted(p for p in folder.glob("*.toml") if p.name not in RESERVED_FILES)
    if not files:
        raise RegistryError(f"{folder}: no layer definitions (*.toml)")
    return Registry([load_layer(p) for p in files], folder)
