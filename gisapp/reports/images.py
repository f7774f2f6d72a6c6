"""Uploaded photos: decoded for real, refused with a clear message when they are
not images, truncated, decompression bombs or too large; display copies and
thumbnails with the EXIF orientation applied and all metadata stripped.
"""
from __future__ import annotations

import hashlib
import io
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageCms, UnidentifiedImageError

from ..errors import GisappError
from .exif import PhotoMeta, read_meta

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "MPO": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"),
           "WEBP": ("image/webp", "webp"), "HEIF": ("image/heic", "heic")}
# HEIC/HEIF, what iPhones shoot: decoded upright (the container's rotation applied, EXIF orientation
# then reads 1), EXIF kept for read_meta
pillow_heif.register_heif_opener()
DISPLAY_PX, THUMB_PX = 1600, 320
# EXIF orientation -> the transposition that displays the image upright (as ImageOps.exif_transpose)
TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
             5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}


# warnings.catch_warnings changes process-wide state before Python 3.14: one thread at a time
_QUIET = threading.RLock()


class PhotoRefused(GisappError):
    status = 400
    code = "bad_photo"


class PhotoTooLarge(PhotoRefused):
    status = 413
    code = "photo_too_large"


class NotAnImage(PhotoRefused):
    status = 415
    code = "not_an_image"


@dataclass
class Photo:
    """One accepted photo: the original bytes, its derived copies and its metadata."""

    name: str
    original: bytes
    display: bytes
    thumb: bytes
    content_type: str
    ext: str
    width: int  # of the display orientation
    height: int
    sha256: str
    meta: PhotoMeta


def _refuse(cls, name: str, zh: str, en: str):
    raise cls({"zh": f"照片 {name}：{zh}", "en": f"photo {name}: {en}"})


def decode(data: bytes, name: str, max_bytes: int, max_pixels: int) -> Image.Image:
    """The fully decoded image, or a PhotoRefused explaining why not."""
    if len(data) > max_bytes:
        _refuse(PhotoTooLarge, name, f"文件过大（{len(data) / 1e6:.1f} MB，上限 {max_bytes / 1e6:.0f} MB）",
                f"file too large ({len(data) / 1e6:.1f} MB, limit {max_bytes / 1e6:.0f} MB)")
    if not data:
        _refuse(NotAnImage, name, "文件为空", "the file is empty")
    with _QUIET, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF; read_meta copes with it
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                _refuse(NotAnImage, name, f"不支持的图片格式 {image.format}（请用 JPEG、PNG、WebP 或 HEIC）",
                        f"unsupported image format {image.format} (use JPEG, PNG, WebP or HEIC)")
            _check_pixels(image, name, max_pixels)
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            _refuse(PhotoRefused, name, "像素过多，疑似解压炸弹", "too many pixels (decompression bomb)")
        except UnidentifiedImageError:
            _refuse(NotAnImage, name, "不是图片文件", "not an image file")
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error,
                zlib.error, MemoryError) as exc:
            _refuse(PhotoRefused, name, f"图片已损坏或不完整（{_short(exc)}）",
                    f"the image is damaged or truncated ({_short(exc)})")
    return image


def _short(exc: Exception) -> str:
    return str(exc).split("\n")[0][:80] or type(exc).__name__


def _check_pixels(image: Image.Image, name: str, max_pixels: int) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        _refuse(PhotoRefused, name, "图片尺寸无效", "invalid image size")
    if width * height > max_pixels:
        _refuse(PhotoRefused, name, f"像素过多（{width}×{height}），疑似解压炸弹",
                f"too many pixels ({width}×{height}): refused as a decompression bomb")


def upright_rgb(image: Image.Image, orientation: int) -> Image.Image:
    """The image as displayed: orientation applied, sRGB, no alpha, no metadata."""
    out = _to_srgb(image)
    if out.mode in ("RGBA", "LA") or (out.mode == "P" and "transparency" in out.info):
        rgba = out.convert("RGBA")
        base = Image.new("RGB", rgba.size, "white")
        base.paste(rgba, mask=rgba.getchannel("A"))
        out = base
    elif out.mode != "RGB":
        out = out.convert("RGB")
    if orientation in TRANSPOSE:
        out = out.transpose(TRANSPOSE[orientation])
    clean = Image.new("RGB", out.size)  # a fresh image: nothing of the original's info is carried over
    clean.paste(out)
    return clean


def _to_srgb(image: Image.Image) -> Image.Image:
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(image, src, ImageCms.createProfile("sRGB"), outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image  # an unreadable profile: keep the pixels as they are


def _jpeg(image: Image.Image, size: int, quality: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    copy.save(buf, "JPEG", quality=quality, optimize=True, progressive=True)
    return buf.getvalue()


def process(data: bytes, name: str, max_bytes: int, max_pixels: int, camera_utc_offset_h: float = 8) -> Photo:
    """Validate one uploaded file and derive its display copy and thumbnail."""
    image = decode(data, name, max_bytes, max_pixels)
    with _QUIET, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = read_meta(image, camera_utc_offset_h)
    upright = upright_rgb(image, meta.orientation)
    content_type, ext = FORMATS[image.format]
    return Photo(name=name, original=data, display=_jpeg(upright, DISPLAY_PX, 82), thumb=_jpeg(upright, THUMB_PX, 75),
                 content_type=content_type, ext=ext, width=upright.width, height=upright.height,
                 sha256=hashlib.sha256(data).hexdigest(), meta=meta)
