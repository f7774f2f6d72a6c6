"""A trimmed TrueType copy of the CJK font, so that making a PDF costs ~0.1 s of font work, not ~0.7 s.

fpdf2 loads the whole font and subsets it for every document: for the 65,000-glyph CFF face of
Noto Sans CJK that is about 0.7 s. The copy holds GB2312's characters (6,763 hanzi), Latin and
the usual punctuation, with quadratic (TrueType) outlines, which subset far faster than CFF. It is
built once (about 30 s) into a cache folder; a document with any character outside it embeds the
full font instead, so nothing is ever missing.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
from pathlib import Path

from .fonts import CJKFont, find_font

log = logging.getLogger(__name__)
TRIM_VERSION = "3"
_building: set = set()
_lock = threading.Lock()


def trim_charset() -> set[int]:
    chars = set(range(0x20, 0x7F)) | set(range(0xA0, 0x250)) | set(range(0x2000, 0x2070)) \
        | set(range(0x2100, 0x2300)) | set(range(0x2460, 0x2600)) | set(range(0x3000, 0x3040)) \
        | set(range(0xFF00, 0xFFF0))
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.update(map(ord, bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return chars


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gisapp" / "fonts"


def trimmed_path(font: CJKFont, cache_dir: str | Path | None = None) -> Path:
    import fontTools
    st = os.stat(font.path)
    key = f"{font.path}|{font.index}|{st.st_size}|{st.st_mtime_ns}|{TRIM_VERSION}|{fontTools.version}"
    return Path(cache_dir or default_cache_dir()) / f"cjk-{hashlib.sha1(key.encode()).hexdigest()[:16]}.ttf"


def _to_truetype(ttf) -> None:
    """Replace CFF outlines by quadratic ``glyf`` ones (max. error 1 font unit)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable
    order = ttf.getGlyphOrder()
    glyphs = ttf.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    ttf["loca"], ttf["glyf"] = newTable("loca"), glyf
    maxp = ttf["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 1 if attr == "maxZones" else 0)
    ttf["head"].indexToLocFormat, ttf["head"].glyphDataFormat = 0, 0
    for table in ("CFF ", "VORG"):
        if table in ttf:
            del ttf[table]
    post = ttf["post"]
    post.formatType, post.extraNames, post.mapping = 2.0, [], {}
    post.glyphOrder = order
    ttf.sfntVersion = "\x00\x01\x00\x00"


def build_trimmed(font: CJKFont, dest: Path) -> Path:
    """Write the trimmed TrueType copy of ``font`` to ``dest`` (atomically)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont
    opts = subset.Options()
    opts.name_IDs, opts.notdef_outline, opts.recommended_glyphs = ["*"], True, True
    opts.layout_features = []
    opts.drop_tables += ["GSUB", "GPOS", "GDEF", "VORG", "vhea", "vmtx"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with TTFont(font.path, fontNumber=font.index, lazy=False) as ttf:
        subsetter = subset.Subsetter(opts)
        subsetter.populate(unicodes=trim_charset())
        subsetter.subset(ttf)
        if "CFF " in ttf:
            _to_truetype(ttf)
        ttf.save(str(tmp))
    os.replace(tmp, dest)
    return dest


@functools.lru_cache(maxsize=8)
def charset_of(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


def _build_in_background(font: CJKFont, dest: Path) -> None:
    with _lock:
        if dest in _building:
            return
        _building.add(dest)

    def run():
        try:
            build_trimmed(font, dest)
        except Exception as exc:  # a cache: failing to build it only costs speed
            log.warning("could not build the trimmed CJK font in %s: %s", dest.parent, exc)
        finally:
            with _lock:
                _building.discard(dest)
    threading.Thread(target=run, name="gisapp-font-trim", daemon=True).start()


def pdf_font(text: str, configured: str | None = None, cache_dir: str | Path | None = None,
             build: str = "background") -> CJKFont:
    """The font file fpdf2 should embed for a document whose text is ``text``.

    ``build``: ``sync`` builds the trimmed copy now if missing, ``background`` starts building it
    and uses the full font meanwhile, ``never`` always uses the full font.
    """
    font = find_font(configured)
    if build == "never":
        return font
    try:
        dest = trimmed_path(font, cache_dir)
        if not dest.exists():
            if build != "sync":
                _build_in_background(font, dest)
                return font
            build_trimmed(font, dest)
        if {ord(c) for c in text} <= charset_of(str(dest)):
            return CJKFont(str(dest), 0, font.family)
    except OSError as exc:
        log.warning("trimmed CJK font unavailable: %s", exc)
    return font
