"""The CJK font embedded in the PDFs and used for the map's labels.

Default: Noto Sans CJK SC from Debian's ``fonts-noto-cjk`` (a TrueType/OpenType collection, so the
face index of the SC face is looked up by name). ``SNAPSHOT_FONT`` may name another .ttf/.otf/.ttc
file holding Chinese glyphs. The PDFs embed a trimmed copy when they can (see fontcache.py).
"""
from __future__ import annotations

import functools
import glob
from dataclasses import dataclass
from pathlib import Path

from ..errors import GisappError

FAMILY = "Noto Sans CJK SC"
SEARCH = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
          "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
          "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
          "/usr/share/fonts/**/NotoSansCJK*-Regular.tt[cf]",
          "/usr/share/fonts/**/NotoSansSC-Regular.[ot]tf")


class FontMissing(GisappError):
    status = 503
    code = "font_missing"


@dataclass(frozen=True)
class CJKFont:
    path: str
    index: int  # face in a collection (0 for single fonts)
    family: str


def _face_index(path: str, wanted: str = FAMILY) -> tuple[int, str]:
    """The face of ``path`` whose family name is ``wanted`` (else the first Simplified Chinese one, else 0)."""
    if not path.lower().endswith((".ttc", ".otc")):
        from fontTools.ttLib import TTFont
        with TTFont(path, lazy=True) as font:
            return 0, font["name"].getDebugName(1) or FAMILY
    from fontTools.ttLib import TTCollection
    with TTCollection(path, lazy=True) as collection:
        names = [f["name"].getDebugName(1) or "" for f in collection.fonts]
    for i, name in enumerate(names):
        if name == wanted:
            return i, name
    for i, name in enumerate(names):
        if name.endswith(" SC"):
            return i, name
    return 0, names[0] if names else FAMILY


def _candidates(configured: str | None):
    if configured:
        yield configured
        return
    for pattern in SEARCH:
        yield from sorted(glob.glob(pattern, recursive=True))


@functools.lru_cache(maxsize=4)
def find_font(configured: str | None = None) -> CJKFont:
    """The CJK font to use; :class:`FontMissing` (HTTP 503) with the fix when there is none."""
    for path in _candidates(configured):
        if Path(path).is_file():
            index, family = _face_index(path)
            return CJKFont(path, index, family)
    raise FontMissing({"zh": "找不到中文字体，无法生成 PDF：请安装 fonts-noto-cjk（scripts/system-deps.sh）或设置 SNAPSHOT_FONT",
                       "en": "no Chinese font for the PDF: install fonts-noto-cjk (scripts/system-deps.sh) "
                             "or set SNAPSHOT_FONT"})


@functools.lru_cache(maxsize=4)
def mpl_families(configured: str | None = None) -> tuple[str, ...]:
    """Matplotlib font families: the CJK font (registered if needed), then DejaVu Sans as fallback."""
    from matplotlib import font_manager
    font = find_font(configured)
    known = {f.name for f in font_manager.fontManager.ttflist}
    if font.family not in known:
        font_manager.fontManager.addfont(font.path)
    return (font.family, "DejaVu Sans")
