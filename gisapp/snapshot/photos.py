"""Photo thumbnails for the list of open problems.

A report's photos are rows of ``report_photos``: :func:`store_lookup` finds the first "before"
photo's thumbnail in the private upload folder (``REPORT_UPLOADS``). A report row may also carry a
photo path in one of :data:`PHOTO_COLUMNS`, relative to the photo folder (``SNAPSHOT_PHOTO_DIR``,
default ``instance/photos``); a caller may pass its own ``lookup(row) -> path | bytes | None``.
Whatever cannot be read gives ``None`` and the page shows a placeholder.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

PHOTO_COLUMNS = ("thumbnail_path", "photo_path", "photo")
THUMB_PX = 240
Lookup = Callable[[dict], "str | Path | bytes | None"]


def column_lookup(photo_dir: str | Path | None) -> Lookup:
    """A lookup reading the first non-empty photo column of a row, inside ``photo_dir`` only."""
    root = Path(photo_dir).resolve() if photo_dir else None

    def lookup(row: dict):
        for col in PHOTO_COLUMNS:
            value = row.get(col)
            if isinstance(value, str) and value.strip():
                if root is None:
                    return None
                path = (root / value.strip()).resolve()
                return path if path.is_relative_to(root) else None
        return None
    return lookup


def store_lookup(store, uploads: str | Path, fallback: Lookup | None = None) -> Lookup:
    """A lookup giving a report's first photo (its thumbnail file), "before" photos first."""
    root = Path(uploads).resolve()

    def lookup(row: dict):
        code = row.get("code")
        if code is not None:
            photos = store.read("report_photos", where={"report_code": str(code)}, geometry=False,
                                columns=["kind", "thumb_path"], order_by="uploaded_at")
            for rec in sorted(photos.to_dict("records"), key=lambda r: r["kind"] != "before"):
                path = (root / str(rec["thumb_path"])).resolve()
                if path.is_relative_to(root) and path.is_file():
                    return path
        return fallback(row) if fallback else None
    return lookup


def thumbnail(source, size_px: int = THUMB_PX) -> bytes | None:
    """A JPEG thumbnail of an image file or image bytes, or None when it cannot be read."""
    if source is None:
        return None
    from PIL import Image, ImageOps
    try:
        raw = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
        with raw, Image.open(raw) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            img.thumbnail((size_px, size_px))
            out = io.BytesIO()
            img.save(out, "JPEG", quality=80)
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        log.warning("cannot make a thumbnail of %s: %s", source if isinstance(source, (str, Path)) else "bytes", exc)
        return None
