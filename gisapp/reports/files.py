"""Private photo files and the two-step write that keeps them in step with the store.

Files are first written under temporary names (``.tmp/``), the database
transaction runs, and only after it commits are the files moved into place
(``os.replace`` within one file system). When the transaction fails the
temporary files are removed; when moving fails the records are removed again.
Either way no record points at a missing file and no file is left without one.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import NotFound
from .images import Photo

log = logging.getLogger(__name__)
VARIANTS = ("original", "display", "thumb")
TMP = ".tmp"


@dataclass
class Staged:
    photo: Photo
    paths: dict[str, str]  # variant -> final path relative to the root
    temps: dict[str, Path]  # variant -> temporary absolute path


class PhotoFiles:
    """The private upload folder (never under static/)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def absolute(self, relative: str) -> Path:
        """The file of a stored relative path; refuses paths that leave the folder."""
        path = (self.root / relative).resolve()
        if self.root not in path.parents or not path.is_file():
            raise NotFound({"zh": "照片文件不存在", "en": "photo file not found"})
        return path

    def stage(self, photos: list[Photo], now: dt.datetime | None = None) -> list[Staged]:
        tmp = self.root / TMP
        tmp.mkdir(parents=True, exist_ok=True)
        month = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y/%m")
        staged: list[Staged] = []
        try:
            for photo in photos:
                stem = uuid.uuid4().hex
                paths = {"original": f"originals/{month}/{stem}.{photo.ext}", "display": f"display/{month}/{stem}.jpg",
                         "thumb": f"thumbs/{month}/{stem}.jpg"}
                item = Staged(photo, paths, {})
                staged.append(item)
                for variant, data in (("original", photo.original), ("display", photo.display), ("thumb", photo.thumb)):
                    item.temps[variant] = tmp / f"{stem}.{variant}"
                    _write(item.temps[variant], data)
        except BaseException:
            self.discard(staged)
            raise
        return staged

    def discard(self, staged: list[Staged]) -> None:
        for item in staged:
            for path in item.temps.values():
                path.unlink(missing_ok=True)

    def publish(self, staged: list[Staged]) -> None:
        """Move staged files into place; on failure, undo the moves made so far and raise."""
        moved: list[Path] = []
        try:
            for item in staged:
                for variant, temp in item.temps.items():
                    final = self.root / item.paths[variant]
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(temp, final)
                    moved.append(final)
        except BaseException:
            for path in moved:
                path.unlink(missing_ok=True)
            self.discard(staged)
            raise

    def remove(self, relative_paths: list[str]) -> None:
        for rel in relative_paths:
            (self.root / rel).unlink(missing_ok=True)

    def sweep(self, older_than_s: float = 24 * 3600) -> int:
        """Remove temporary files left by a crash between staging and publishing."""
        tmp, n = self.root / TMP, 0
        if not tmp.is_dir():
            return 0
        limit = time.time() - older_than_s
        for path in tmp.iterdir():
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
                n += 1
        return n


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def save_with_files(files: PhotoFiles, photos: list[Photo], write: Callable[[list[Staged]], object],
                    undo: Callable[[object], None]):
    """Stage photo files, run ``write(staged)`` (one store transaction), then publish the files.

    ``undo(result)`` removes what ``write`` committed if the files cannot be published.
    """
    staged = files.stage(photos)
    try:
        result = write(staged)
    except BaseException:
        files.discard(staged)
        raise
    try:
        files.publish(staged)
    except OSError:
        log.exception("photo files could not be moved into place; removing the records")
        undo(result)
        raise
    return result
