"""Uploaded import files kept privately between the dry run and the import."""
from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import NotFound, ValidationFailed
from .common import fail
from .readers import Options

ACCEPTED = (".zip", ".kmz", ".kml", ".gpx", ".geojson", ".json", ".gpkg", ".csv", ".fgb")
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


@dataclass
class Job:
    token: str
    folder: Path
    filename: str  # as uploaded (shown to people)
    target: str
    options: Options
    mapping: dict = field(default_factory=dict)
    source: str = "inspection"

    @property
    def path(self) -> Path:
        """The stored file: the uploaded name made safe (it shows in messages), suffix in lower case."""
        name = Path(self.filename)
        stem = re.sub(r"[^\w\-]", "_", name.stem)[:100] or "data"
        return self.folder / (stem + name.suffix.lower())


def _root(uploads: Path) -> Path:
    return Path(uploads) / "imports"


def create_job(uploads: Path, filename: str, data: bytes, target: str, options: Options, mapping: dict | None = None,
               source: str = "inspection") -> Job:
    suffix = Path(filename or "").suffix.lower()
    if suffix not in ACCEPTED:
        fail(ValidationFailed, f"不支持的文件类型 {suffix[:10] or '（无扩展名）'}：请上传 {'、'.join(ACCEPTED)}（Shapefile 请打包为 zip）",
             f"unsupported file type {suffix[:10] or '(none)'}: upload {', '.join(ACCEPTED)} (zip shapefiles)")
    if not data:
        fail(ValidationFailed, "文件为空", "the file is empty")
    token = secrets.token_urlsafe(24)
    folder = _root(uploads) / token
    folder.mkdir(parents=True)
    job = Job(token, folder, Path(filename).name[:200], target, options, dict(mapping or {}), source)
    job.path.write_bytes(data)
    (folder / "job.json").write_text(json.dumps({"filename": job.filename, "target": target, "options": asdict(options),
                                                 "mapping": job.mapping, "source": source}, ensure_ascii=False))
    return job


def load_job(uploads: Path, token: str) -> Job:
    folder = _root(uploads) / token
    if not TOKEN.fullmatch(token or "") or not (folder / "job.json").is_file():
        fail(NotFound, "导入任务不存在或已完成", "no such import (it may be done already)")
    meta = json.loads((folder / "job.json").read_text())
    return Job(token, folder, meta["filename"], meta["target"], Options(**meta["options"]), meta["mapping"], meta["source"])


def remove_job(job: Job) -> None:
    shutil.rmtree(job.folder, ignore_errors=True)


def sweep_jobs(uploads: Path, older_than_s: float = 24 * 3600) -> int:
    root, n = _root(uploads), 0
    if not root.is_dir():
        return 0
    limit = time.time() - older_than_s
    for folder in root.iterdir():
        if folder.is_dir() and folder.stat().st_mtime < limit:
            shutil.rmtree(folder, ignore_errors=True)
            n += 1
    return n
