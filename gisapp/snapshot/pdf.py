"""The PDF of a snapshot (fpdf2): the map as a 150 dpi PNG, text in an embedded, subset CJK font.

Content flows through *frames*: on the first page the column(s) beside or below the map, then
the whole body of as many further pages as needed (tables repeat their header). An atlas page
has no further pages: what does not fit is cut with a note pointing to the area's own snapshot.
"""
from __future__ import annotations

import io
import re

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, WrapMode

from .document import Options, Snapshot, Table
from .fontcache import pdf_font
from .fonts import CJKFont
from .layout import FOOTER, MARGIN, Layout
from .text import LABELS, L

PT = 25.4 / 72  # millimetres per point
PAD = 0.4
GREY_LINE = (210, 210, 210)
HEADER_FILL = (236, 239, 241)
HIGHLIGHT_FILL = (253, 236, 234)
ACCENT = (183, 28, 28)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text) -> str:
    return _CONTROL.sub(" ", "" if text is None else str(text))


class Full(Exception):
    """No room left on a page that may not continue (an atlas page)."""


class SnapshotPDF(FPDF):
    def __init__(self, layout: Layout, font: CJKFont, lang: str, title: str = ""):
        super().__init__(orientation="L" if layout.landscape else "P", unit="mm", format=layout.paper)
        self.layout, self.lang, self.footer_text = layout, lang, ""
        self.wrapped: dict = {}  # (text, width, size) -> lines
        self.s = layout.scale
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(False)
        self.add_font("cjk", "", font.path, collection_font_number=font.index)
        ttfont = getattr(self.fonts["cjk"], "ttfont", None)
        if ttfont is not None:
            ttfont.recalcBBoxes = False  # the subset keeps the font's bounding box: saves ~0.1 s
        self.set_font("cjk", size=8)
        self.set_creator("gisapp")
        self.set_title(title)
        self.set_lang("en" if lang == "en" else "zh-CN")

    def footer(self):
        w, h = self.layout.page
        self.set_font("cjk", size=6.5 * self.s)
        self.set_text_color(117, 117, 117)
        self.set_draw_color(*GREY_LINE)
        y = h - MARGIN - FOOTER + 2.5
        self.line(MARGIN, y - 0.8, w - MARGIN, y - 0.8)
        self.set_xy(MARGIN, y)
        self.cell(w - 2 * MARGIN - 22, 4, clean(self.footer_text))
        self.cell(22, 4, L("page", self.lang, n=self.page_no()), align="R")
        self.set_text_color(0, 0, 0)

    def page_header(self, title: str, subtitle: str, continued: bool = False):
        w = self.layout.page[0]
        self.set_text_color(*ACCENT)
        self.set_font("cjk", size=(11 if continued else 15) * self.s)
        self.set_xy(MARGIN, MARGIN)
        self.cell(w - 2 * MARGIN, 8, clean(title + (L("continued", self.lang) if continued else "")))
        self.set_text_color(97, 97, 97)
        self.set_font("cjk", size=8 * self.s)
        self.set_xy(MARGIN, MARGIN + 8.5)
        self.cell(w - 2 * MARGIN, 4.5, clean(subtitle))
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.5)
        self.line(MARGIN, MARGIN + 14, w - MARGIN, MARGIN + 14)
        self.set_line_width(0.2)
        self.set_text_color(0, 0, 0)


class Flow:
    """Places headings, paragraphs and tables frame after frame."""

    def __init__(self, pdf: SnapshotPDF, frames, new_page=None):
        self.pdf, self.frames, self.new_page = pdf, list(frames), new_page
        self.fs = 6.8 * pdf.s
        self.lh = self.fs * PT * 1.3
        self.reserve = 0.0 if new_page else self.lh + 1
        self._enter(self.frames.pop(0))

    def _enter(self, frame):
        self.x, self.top, self.w, self.h = frame
        self.y = self.top

    @property
    def bottom(self) -> float:
        return self.top + self.h - self.reserve

    def advance(self):
        if not self.frames:
            if self.new_page is None:
                raise Full
            self.frames = list(self.new_page())
        self._enter(self.frames.pop(0))

    def ensure(self, height: float, min_width: float = 0.0):
        while self.y + height > self.bottom + 0.01 or self.w < min_width:
            if self.y == self.top and self.w >= min_width:
                return
            self.advance()

    # -- text ---------------------------------------------------------------------------
    def lines(self, text: str, width: float, size: float | None = None) -> list[str]:
        """``text`` broken into lines ``width`` mm wide (memoised per document: atlas pages repeat labels)."""
        size = size or self.fs
        key = (text, round(width, 2), size)
        if key not in self.pdf.wrapped:
            self.pdf.set_font("cjk", size=size)
            self.pdf.wrapped[key] = [""] if not text else self.pdf.multi_cell(
                max(width, 2), self.lh, clean(text), dry_run=True, padding=0,
                output=MethodReturnValue.LINES, wrapmode=WrapMode.WORD)
        return self.pdf.wrapped[key]

    def fit(self, text: str, width: float) -> str:
        text = clean(text)
        if self.pdf.get_string_width(text) <= width:
            return text
        while text and self.pdf.get_string_width(text + "…") > width:
            text = text[:-1]
        return text + "…"

    def heading(self, text: str, keep: float = 0.0):
        size = 9 * self.pdf.s
        self.ensure(size * PT * 1.6 + keep)
        self.pdf.set_font("cjk", size=size)
        self.pdf.set_text_color(*ACCENT)
        self.pdf.set_xy(self.x, self.y + 0.8)
        self.pdf.cell(self.w, size * PT * 1.3, self.fit(text, self.w))
        self.pdf.set_text_color(0, 0, 0)
        self.y += size * PT * 1.6 + 0.6

    def paragraph(self, text: str, size: float | None = None, color=(33, 33, 33)):
        size = size or self.fs
        lh = size * PT * 1.35
        for line in self.lines(text, self.w, size):
            self.ensure(lh)
            self.pdf.set_font("cjk", size=size)
            self.pdf.set_text_color(*color)
            self.pdf.set_xy(self.x, self.y)
            self.pdf.cell(self.w, lh, line)
            self.y += lh
        self.pdf.set_text_color(0, 0, 0)
        self.y += 1.0

    # -- tables -------------------------------------------------------------------------
    def _widths(self, table: Table, width: float | None = None) -> list[float]:
        total = sum(c.weight for c in table.columns)
        return [(width or self.w) * c.weight / total for c in table.columns]

    def measure(self, table: Table, width: float) -> float:
        """The height ``table`` takes in a frame ``width`` wide."""
        widths = self._widths(table, width)
        rows = sum(self._row_height(table, r, widths)[0] for r in table.rows)
        return 9 * self.pdf.s * PT * 1.6 + 0.6 + self._header(table, widths)[0] + rows + 2.0

    def _row_height(self, table: Table, row, widths) -> tuple[float, list]:
        cells, height = [], 1
        for col, value, w in zip(table.columns, row, widths):
            if col.image:
                cells.append(value)
                height = max(height, (12 * self.pdf.s + 2 * PAD) / self.lh)
            elif col.wrap:
                lines = self.lines(str(value), w - 2 * PAD)
                lines = lines[:4] if len(lines) <= 4 else [*lines[:3], self.fit(lines[3] + "…", w - 2 * PAD)]
                cells.append(lines)
                height = max(height, len(lines))
            else:
                cells.append([self.fit(str(value), w - 2 * PAD)])
        return height * self.lh + 2 * PAD, cells

    def _draw_row(self, table: Table, cells, widths, height, fill=None, header=False):
        pdf, x = self.pdf, self.x
        if fill:
            pdf.set_fill_color(*fill)
            pdf.rect(self.x, self.y, self.w, height, style="F")
        pdf.set_font("cjk", size=self.fs)
        for col, lines, w in zip(table.columns, cells, widths):
            if col.image and not header:
                self._image(lines, x + PAD, self.y + PAD, w - 2 * PAD, height - 2 * PAD)
            else:
                for i, line in enumerate(lines):
                    pdf.set_xy(x + PAD, self.y + PAD + i * self.lh)
                    pdf.cell(w - 2 * PAD, self.lh, line, align=col.align if not header else
                             ("R" if col.align == "R" else "L"))
            x += w
        pdf.set_draw_color(*GREY_LINE)
        pdf.line(self.x, self.y + height, self.x + self.w, self.y + height)
        self.y += height

    def _image(self, data, x, y, w, h):
        pdf = self.pdf
        if data:
            pdf.image(io.BytesIO(data), x, y, w, h, keep_aspect_ratio=True)
            return
        pdf.set_fill_color(238, 238, 238)
        pdf.rect(x, y, w, h, style="F")
        pdf.set_font("cjk", size=self.fs * 0.85)
        pdf.set_text_color(140, 140, 140)
        pdf.set_xy(x, y + h / 2 - self.lh / 2)
        pdf.cell(w, self.lh, L("no_photo", pdf.lang), align="C")
        pdf.set_text_color(0, 0, 0)
        pdf.set_font("cjk", size=self.fs)

    def _header(self, table: Table, widths) -> tuple[float, list]:
        cells = []
        for c, w in zip(table.columns, widths):
            lines = self.lines(c.label, w - 2 * PAD)
            cells.append(lines if len(lines) <= 2 else [lines[0], self.fit("".join(lines[1:]), w - 2 * PAD)])
        return max(len(c) for c in cells) * self.lh + 2 * PAD, cells

    def _keep_together(self, table: Table, widths):
        """Start the table in the next frame when most of it would not fit here but all of it there
        (not on pages that cannot continue, where every millimetre counts)."""
        if self.y == self.top or self.new_page is None:
            return
        total = self.lh * 3 + sum(self._row_height(table, r, widths)[0] for r in table.rows[:60])
        room = self.bottom - self.y
        next_h = self.frames[0][3] if self.frames else self.pdf.layout.body[3]
        if total > room and total <= next_h and room < 0.4 * total:
            self.advance()

    def table(self, table: Table, min_width: float = 0.0):
        self.ensure(0, min_width)
        self._keep_together(table, self._widths(table))
        widths = self._widths(table)
        head_h, header = self._header(table, widths)
        first_h = self._row_height(table, table.rows[0], widths)[0] if table.rows else 0
        frame = (self.x, self.top)
        self.heading(table.title, keep=head_h + first_h)
        if (self.x, self.top) != frame:  # the heading moved on to another frame
            widths = self._widths(table)
            head_h, header = self._header(table, widths)
        self._draw_row(table, header, widths, head_h, HEADER_FILL, header=True)
        for n, row in enumerate(table.rows):
            height, cells = self._row_height(table, row, widths)
            if self.y + height > self.bottom + 0.01:
                try:
                    self.advance()
                except Full:
                    self._cut(len(table.rows) - n)
                    raise
                self.ensure(0, min_width)
                widths = self._widths(table)
                height, cells = self._row_height(table, row, widths)
                head_h, header = self._header(table, widths)
                self.heading(table.title + L("continued", self.pdf.lang))
                self._draw_row(table, header, widths, head_h, HEADER_FILL, header=True)
            fill = HIGHLIGHT_FILL if n < len(table.highlight) and table.highlight[n] else None
            self._draw_row(table, cells, widths, height, fill)
        self.y += 2.0

    def _cut(self, left: int):
        self.pdf.set_font("cjk", size=self.fs)
        self.pdf.set_text_color(117, 117, 117)
        self.pdf.set_xy(self.x, self.y)
        self.pdf.cell(self.w, self.lh, self.fit(L("more_rows", self.pdf.lang, n=left), self.w))
        self.pdf.set_text_color(0, 0, 0)


def _first_page(pdf: SnapshotPDF, snap: Snapshot, bookmark: bool) -> None:
    pdf.footer_text = snap.footer
    pdf.add_page()
    if bookmark:
        pdf.start_section(clean(snap.title))
    pdf.page_header(snap.title, snap.subtitle)
    x, y, w, h = snap.layout.map_box
    pdf.image(io.BytesIO(snap.map_png), x, y, w, h)
    pdf.set_draw_color(158, 158, 158)
    pdf.rect(x, y, w, h)


def _flow(pdf: SnapshotPDF, snap: Snapshot, atlas: bool) -> Flow:
    """Frames beside/below the map; then whole pages, except in an atlas."""
    layout = snap.layout

    def new_page():
        pdf.add_page()
        pdf.page_header(snap.title, snap.subtitle, continued=True)
        return layout.next_frames()

    flow = Flow(pdf, layout.first_frames(), None if atlas else new_page)
    if not layout.landscape and snap.tables and snap.tables[0].key == "works":
        lead = flow.measure(snap.tables[0], layout.body[2]) + 0.5  # a full-width strip for the wide table
        flow = Flow(pdf, layout.first_frames(lead), None if atlas else new_page)
    return flow


def _content(flow: Flow, snap: Snapshot, atlas: bool) -> None:
    small, lang = flow.fs * 0.95, snap.lang
    if snap.empty:
        flow.paragraph(L("empty", lang), size=flow.fs * 1.2)
    for table in snap.tables:
        flow.table(table)
    if not atlas or not any(t.key == "problems" for t in snap.tables):
        flow.paragraph(snap.notes[0], size=small)  # open and overdue (an atlas page has it in a heading)
    if snap.basemap_note:
        flow.paragraph(snap.basemap_note, size=small, color=(117, 117, 117))
    if snap.problems:
        flow.table(snap.list_table, min_width=snap.layout.body[2] * 0.9)
    elif snap.problems is not None:
        flow.paragraph(L("no_open", lang))
    if not atlas:
        flow.heading(L("notes", lang))
        for note in snap.notes[1:]:
            flow.paragraph(note, size=small, color=(66, 66, 66))


def draw_snapshot(pdf: SnapshotPDF, snap: Snapshot, atlas: bool = False, bookmark: bool = False) -> None:
    """The snapshot's pages: header, map, figures, notes and (unless in an atlas) the open problems."""
    _first_page(pdf, snap, bookmark)
    try:
        _content(_flow(pdf, snap, atlas), snap, atlas)
    except Full:  # an atlas page is full: the table that did not fit says so
        pass


def text_of(snaps: list[Snapshot], lang: str) -> str:
    """Every character the PDF may print (to choose the font file)."""
    parts = [text for v in LABELS.values() for text in v.values()]
    for snap in snaps:
        parts += [snap.title, snap.subtitle, snap.footer, *snap.notes, snap.basemap_note or ""]
        for table in [*snap.tables, *([snap.list_table] if snap.problems else [])]:
            parts += [table.title, *(c.label for c in table.columns)]
            parts += [str(v) for row in table.rows for v in row if not isinstance(v, (bytes, type(None)))]
    return "".join(parts) + "0123456789…（续）"


def new_pdf(layout: Layout, snaps: list[Snapshot], opts: Options, title: str) -> SnapshotPDF:
    lang = snaps[0].lang if snaps else opts.lang
    font = pdf_font(text_of(snaps, lang), opts.font, opts.font_cache, opts.font_build)
    return SnapshotPDF(layout, font, lang, title)


def finish(pdf: SnapshotPDF) -> bytes:
    """The PDF's bytes; closes the font files fpdf2 keeps open."""
    try:
        return bytes(pdf.output())
    finally:
        for font in pdf.fonts.values():
            ttfont = getattr(font, "ttfont", None)
            if ttfont is not None:
                ttfont.close()


def snapshot_pdf(snap: Snapshot, opts: Options) -> bytes:
    pdf = new_pdf(snap.layout, [snap], opts, snap.title)
    draw_snapshot(pdf, snap)
    return finish(pdf)
