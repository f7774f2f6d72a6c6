"""Paper sizes and the page's boxes in millimetres, shared by the PDF and the print CSS.

Landscape: the map at the top left (58 % of the width, 60 % of the height), figures below it and
in a column to its right. Portrait: the map on top (48 % of the height), figures below in two columns.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadRequest

PAPERS = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}  # landscape width, height
ORIENTATIONS = ("landscape", "portrait")
MARGIN = 10.0
HEADER = 17.0  # title and subtitle
FOOTER = 7.0
GAP = 5.0


@dataclass(frozen=True)
class Layout:
    paper: str = "A4"
    orientation: str = "landscape"

    def __post_init__(self):
        if self.paper not in PAPERS:
            raise BadRequest({"zh": f"纸张应为 {' 或 '.join(PAPERS)}", "en": f"paper must be {' or '.join(PAPERS)}"})
        if self.orientation not in ORIENTATIONS:
            raise BadRequest({"zh": "方向应为 landscape（横向）或 portrait（纵向）",
                              "en": "orientation must be landscape or portrait"})

    @property
    def landscape(self) -> bool:
        return self.orientation == "landscape"

    @property
    def page(self) -> tuple[float, float]:
        w, h = PAPERS[self.paper]
        return (w, h) if self.landscape else (h, w)

    @property
    def scale(self) -> float:
        """Type size factor: A3 prints a little larger."""
        return 1.0 if self.paper == "A4" else 1.25

    @property
    def body(self) -> tuple[float, float, float, float]:
        """x, y, width, height of the area between header and footer."""
        w, h = self.page
        return MARGIN, MARGIN + HEADER, w - 2 * MARGIN, h - 2 * MARGIN - HEADER - FOOTER

    @property
    def map_box(self) -> tuple[float, float, float, float]:
        x, y, w, h = self.body
        if self.landscape:
            return x, y, round(w * 0.58, 1), round(h * 0.6, 1)
        return x, y, w, round(h * 0.48, 1)

    def first_frames(self, lead: float = 0.0) -> list[tuple[float, float, float, float]]:
        """Where the figures go on the first page, in reading order. Portrait pages start with a
        full-width strip ``lead`` mm high (for the wide works table), then two columns."""
        x, y, w, h = self.body
        mx, my, mw, mh = self.map_box
        if self.landscape:
            return [(x, my + mh + GAP, mw, y + h - my - mh - GAP), (mx + mw + GAP, y, w - mw - GAP, h)]
        col = (w - GAP) / 2
        top = my + mh + GAP
        lead = min(lead, (y + h - top) * 0.6)
        strip = [(x, top, w, lead)] if lead > 0 else []
        top += lead
        return [*strip, (x, top, col, y + h - top), (x + col + GAP, top, col, y + h - top)]

    def next_frames(self) -> list[tuple[float, float, float, float]]:
        """Where content continues on the following pages: the whole body."""
        return [self.body]

    @property
    def css_size(self) -> str:
        return f"{self.paper} {self.orientation}"
