"""Private photo files and the two-step write that keeps them in step with the store.

Files are first written under temporary names (``.tmp/``), the database
transaction runs, and only after it commits are the files moved into place
(``os.replace`` within one file system). When the transaction fails the
temporary files are removed; when moving fails the records are removed again.
Either way no record points at a missing file and no file is left without one.

A process killed between staging and publishing (SIGKILL, out of memory) cannot clean up. So
each upload stages its files in a directory of its own, ``.tmp/<uuid>/``, locked (``flock``) by
the process writing it until the files are published or removed, and each file is named after
its final path. The kernel drops the lock when the process dies. :meth:`PhotoFiles.recover`
(run when a worker starts) takes the directories nobody holds and asks the store: files whose
record committed are moved into place, the others are removed.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote, unquote

try:
    import fcntl
except ImportError:  # not POSIX: staging directories of dead processes are left to the age rule
    fcntl = None

from ..errors import NotFound
from .images import Photo

log = logging.getLogger(__name__)
VARIANTS = ("original", "display", "thumb")
TMP = ".tmp"
FOLDERS = ("originals/", "display/", "thumbs/")  # where staged files may be published to


@dataclass
class Lease:
    """An upload's staging directory, held (locked) by this process until released."""
    folder: Path
    fd: int | None

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.folder.rmdir()  # empty once published or discarded; else left to recover()
        except OSError:
            pass
        if self.fd >= 0:
            os.close(self.fd)
        self.fd = None


@dataclass
class Staged:
    photo: Photo
    paths: dict[str, str]  # variant -> final path relative to the root
    temps: dict[str, Path]  # variant -> temporary absolute path
    lease: Lease | None = field(default=None, repr=False)  # the staging directory (shared by an upload's photos)


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
        if not photos:
            return []
        lease = _lease(self.root / TMP)
        month = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y/%m")
        staged: list[Staged] = []
        try:
            for photo in photos:
                stem = uuid.uuid4().hex
                paths = {"original": f"originals/{month}/{stem}.{photo.ext}", "display": f"display/{month}/{stem}.jpg",
                         "thumb": f"thumbs/{month}/{stem}.jpg"}
                item = Staged(photo, paths, {}, lease)
                staged.append(item)
                for variant, data in (("original", photo.original), ("display", photo.display), ("thumb", photo.thumb)):
                    item.temps[variant] = lease.folder / quote(paths[variant], safe="")  # the final path, for recover()
                    _write(item.temps[variant], data)
        except BaseException:
            self.discard(staged)
            lease.release()
            raise
        return staged

    def discard(self, staged: list[Staged]) -> None:
        for item in staged:
            for path in item.temps.values():
                path.unlink(missing_ok=True)
        _release(staged)

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
        _release(staged)

    def recover(self, stored: Callable[[list[str]], set[str]]) -> dict[str, int]:
        """Finish what dead processes left in ``.tmp/``: in every staging directory no live
        process holds, files whose final path ``stored(final_paths)`` names (their record
        committed) are moved into place, everything else is removed, then the directory.

        Directories still locked belong to uploads in progress (in any process) and are left
        alone. Safe to run from several processes at once: a directory is handled by whoever
        holds its lock.
        """
        tmp, done = self.root / TMP, {"published": 0, "removed": 0}
        if fcntl is None or not tmp.is_dir():
            return done
        dead: list[tuple[Path, int]] = []
        try:
            for folder in tmp.iterdir():
                fd = _lock_if_dead(folder) if folder.is_dir() else None
                if fd is not None:
                    dead.append((folder, fd))
            files = [f for folder, _ in dead for f in folder.iterdir()]
            finals = {f: _final_path(f.name) for f in files}
            committed = stored(sorted({v for v in finals.values() if v})) if any(finals.values()) else set()
            for path, final in finals.items():
                if final is not None and final in committed and path.is_file():
                    target = self.root / final
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, target)
                    done["published"] += 1
                elif path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
                    done["removed"] += 1
            for folder, _ in dead:
                folder.rmdir()
        finally:
            for _, fd in dead:
                os.close(fd)
        if any(done.values()):
            log.warning("photo files of interrupted uploads: %(published)d moved into place, %(removed)d removed", done)
        return done

    def remove(self, relative_paths: list[str]) -> None:
        for rel in relative_paths:
            (self.root / rel).unlink(missing_ok=True)

    def sweep(self, older_than_s: float = 24 * 3600) -> int:
        """Remove loose temporary files older than that (staging directories are :meth:`recover`'s)."""
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


def _lease(tmp: Path) -> Lease:
    """A new staging directory, locked by this process (whoever locks it in the instant between
    mkdir and flock, a recover() in another process, wins: then another directory is made)."""
    tmp.mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        folder = tmp / uuid.uuid4().hex
        folder.mkdir(mode=0o750)
        if fcntl is None:
            return Lease(folder, -1)  # no lock: a crash leaves the directory behind
        fd = _lock_if_dead(folder)
        if fd is not None:
            return Lease(folder, fd)
    raise OSError(f"cannot lock a staging directory in {tmp}")


def _release(staged: list[Staged]) -> None:
    for lease in {id(item.lease): item.lease for item in staged if item.lease is not None}.values():
        lease.release()


def _final_path(name: str) -> str | None:
    """The final relative path a staged file is named after, or None (not one of ours)."""
    final = unquote(name)
    if "%2F" not in name or not final.startswith(FOLDERS) or ".." in final.split("/") or "\\" in final:
        return None
    return final


def _lock_if_dead(folder: Path) -> int | None:
    """A descriptor holding the lock of a staging directory nobody else holds, or None
    (held by a live upload, or removed meanwhile by another process's recover())."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        same = os.stat(folder).st_ino == os.fstat(fd).st_ino
    except OSError:  # BlockingIOError: held; FileNotFoundError: removed after our open
        same = False
    if not same:
        os.close(fd)
        return None
    return fd


def paths_in_store(store, paths: list[str]) -> set[str]:
    """Which of these relative paths a photo row refers to, in every table that has the three path
    columns (report photos, progress photos): ``stored`` for :meth:`PhotoFiles.recover`."""
    columns = [f"{v}_path" for v in VARIANTS]
    found: set[str] = set()
    for spec in store.specs.values():
        if spec.spatial or not set(columns) <= set(spec.column_names):
            continue
        for column in columns:
            for start in range(0, len(paths), 500):
                df = store.read(spec.name, where={column: paths[start:start + 500]}, columns=[column], geometry=False)
                found.update(df[column])
    return found


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
