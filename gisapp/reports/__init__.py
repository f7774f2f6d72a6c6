"""Field reports: photos from a phone, automatic assignment, duplicates, the
rectification workflow (GB/T 30428) and bulk import of GIS files.

Plain Python over the :class:`~gisapp.storage.Store` interface; no Flask here.
The blueprint ``gisapp.web.reports`` only parses requests and renders results.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """The REPORT_* / IMPORT_* settings of gisapp.config, with their defaults."""

    uploads: Path = Path("instance/uploads")
    max_photo_mb: float = 15
    max_photos: int = 6
    max_pixels: int = 40_000_000
    area_margin_m: float = 200
    lane_distance_m: float = 30
    lane_tie_m: float = 5
    duplicate_radius_m: float = 30
    duplicate_days: float = 7
    due_days: float = 7
    after_radius_m: float = 100
    camera_utc_offset_h: float = 8
    import_max_uncompressed_mb: float = 2048
    import_max_ratio: float = 200
    import_max_entries: int = 10_000

    @classmethod
    def from_config(cls, config, instance_path: str | Path = "instance") -> "Settings":
        values = {}
        for f in fields(cls):
            key = ("IMPORT_" + f.name[len("import_"):] if f.name.startswith("import_") else "REPORT_" + f.name).upper()
            if key in config and config[key] is not None:
                values[f.name] = config[key]
        values["uploads"] = Path(config.get("REPORT_UPLOADS") or Path(instance_path) / "uploads")
        return cls(**values)
