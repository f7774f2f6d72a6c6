"""The content of a snapshot, independent of its output: the PDF and the print page render it.

:func:`build_snapshot` turns an area's selection into a :class:`Snapshot`: title lines, the map
PNG, tables of ready-made strings, notes, the list of open problems with thumbnails, and the raw
numbers (``summary``) for the JSON twin and the tests.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..figures import Figure
from ..vocab import CATEGORIES, REPORT_STATES, STATUSES
from . import stats
from .areas import LANE_BUFFER_M, MARKET_BUFFER_M, Area, subdistrict_area
from .data import SnapshotData, select
from .fonts import mpl_families
from .layout import Layout
from .mapplot import render_map
from ..reports.common import clean
from .photos import Lookup, thumbnail
from .text import SUBDISTRICT, L, num, pct, pick


@dataclass
class Options:
    as_of: dt.date | None = None  # None: today
    paper: str = "A4"
    orientation: str = "landscape"
    lang: str = "zh"
    overdue_days: int = stats.OVERDUE_DAYS
    lane_buffer_m: float = LANE_BUFFER_M
    market_buffer_m: float = MARKET_BUFFER_M
    basemap_url: str | None = None
    font: str | None = None  # a font file with Chinese glyphs (default: Noto Sans CJK SC)
    font_cache: str | None = None  # where the trimmed font copy is kept (default ~/.cache/gisapp/fonts)
    font_build: str = "background"  # sync | background | never (see fonts.pdf_font)
    photo_lookup: Lookup | None = None
    dpi: int = 150
    now: dt.datetime | None = None  # generation time (default: now)

    @property
    def layout(self) -> Layout:
        return Layout(self.paper, self.orientation)


@dataclass
class Column:
    label: str
    weight: float = 1.0
    align: str = "L"  # L, R or C
    wrap: bool = False
    image: bool = False


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[list]
    highlight: list[bool] = field(default_factory=list)  # rows to mark (overdue problems)


@dataclass
class Problem:
    code: str
    category: str
    category_key: str
    state: str
    reported: str
    days_open: int
    community: str
    description: str
    overdue: bool
    thumbnail: bytes | None = None


@dataclass
class Snapshot:
    area: Area
    lang: str
    layout: Layout
    title: str
    subtitle: str
    as_of: dt.date
    generated_at: dt.datetime
    data_version: int
    map_png: bytes
    tables: list[Table]
    notes: list[str]
    problems: list[Problem] | None  # None: the list is left out (atlas pages)
    summary: dict
    empty: bool
    basemap_note: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def list_table(self) -> Table | None:
        if not self.problems:
            return None
        return list_table(self.problems, self.lang, with_community=self.area.kind != "community")

    @property
    def footer(self) -> str:
        return (f"{L('source', self.lang)} · {L('generated', self.lang)} {self.generated_at:%Y-%m-%d %H:%M} · "
                f"{L('data_version', self.lang)} {self.data_version}")


def subdistrict_values(data: SnapshotData, figures: list[Figure]) -> dict[str, float]:
    """Each figure over the whole subdistrict (equal to :func:`gisapp.figures.compute`), memoised."""
    key = ("subdistrict_values", tuple(f.key for f in figures))
    if key not in data.memo:  # reports counted in the store: a county may hold millions
        sel = select(data, subdistrict_area(data.layers), reports=False)
        data.memo[key] = {f.key: data.report_total(f.source.where, f.source.measure, f.source.column)
                          if f.source.table == "reports" else stats.figure_value(f, sel) for f in figures}
    return data.memo[key]


def works_table(rows: list[dict], lang: str, quantities: bool = True) -> Table:
    """Works by status; ``quantities=False`` leaves out the quantities (the atlas cover has them as figures)."""
    show_none = any(r["by_status"]["none"] for r in rows)
    statuses = [*STATUSES, *(["none"] if show_none else [])]
    cols = [Column(L("col_layer", lang), 2.2, wrap=True), Column(L("col_count", lang), 1.0, "R")]
    cols += [Column(pick(STATUSES[s], lang) if s in STATUSES else L("col_none", lang), 1.0, "R") for s in statuses]
    cols += [Column(L("col_finished", lang), 1.1, "R")]
    cols += [Column(L("col_quantities", lang), 4.2, wrap=True)] if quantities else []
    out = []
    for r in rows:
        sep = "；" if lang == "zh" else "; "
        qty = [sep.join(f"{q['label']} {num(q['value'])} {q['unit']}" for q in r["quantities"])] if quantities else []
        out.append([r["title"], num(r["count"]), *[num(r["by_status"][s]) for s in statuses],
                    pct(r["finished"], r["count"]), *qty])
    return Table("works", L("works", lang), cols, out)


def targets_table(rows: list[dict], lang: str) -> Table:
    cols = [Column(L("col_figure", lang), 3.4, wrap=True), Column(L("col_area_value", lang), 1.6, "R"),
            Column(L("col_share", lang), 1.0, "R"), Column(L("col_subdistrict", lang), 1.6, "R"),
            Column(L("col_published", lang), 1.6, "R")]
    out = []
    for r in rows:
        if not r["value"]:
            continue
        mark = "≥" if r["comparison"] == "at_least" else ""
        out.append([f"{r['label']}（{r['unit']}）" if lang == "zh" and r["unit"] else r["label"],
                    num(r["value"]), pct(r["value"], r["subdistrict"]) if r["subdistrict"] else "—",
                    num(r["subdistrict"]), f"{mark}{num(r['published'])}"])
    return Table("targets", L("targets", lang), cols, out)


def problems_table(summary: dict, lang: str) -> Table:
    states = summary["states"]
    cols = [Column(L("col_category", lang), 2.6, wrap=True)]
    cols += [Column(_state_label(s, lang), 1.0, "R") for s in states] + [Column(L("col_total", lang), 1.0, "R")]
    out, totals = [], {s: 0 for s in states}
    for cat, counts in summary["by_category"].items():
        out.append([pick(CATEGORIES.get(cat, {"zh": cat, "en": cat}), lang),
                    *[num(counts.get(s, 0)) for s in states], num(sum(counts.values()))])
        for s in states:
            totals[s] += counts.get(s, 0)
    if out:
        out.append([L("col_total", lang), *[num(totals[s]) for s in states], num(summary["total"])])
    title = L("problems", lang) + L("open_overdue", lang, open=summary["open"], overdue=summary["overdue"])
    return Table("problems", title, cols, out)


def _state_label(state: str, lang: str) -> str:
    return L("open_then", lang) if state == "open_then" else pick(REPORT_STATES.get(state, {"zh": state}), lang)


def problem_items(sel, data: SnapshotData, opts: Options) -> list[Problem]:
    names = data.communities
    items = []
    for row in stats.open_reports(sel, opts.overdue_days).to_dict("records"):
        photo = opts.photo_lookup(row) if opts.photo_lookup else None
        cat = str(row["category"])
        items.append(Problem(
            str(row["code"]), pick(CATEGORIES.get(cat, {"zh": cat, "en": cat}), opts.lang), cat,
            _state_label(str(row["state"]), opts.lang), str(row["reported_at"])[:10], int(row["days_open"]),
            names.get(str(row.get("community_code")), str(clean(row.get("community_code")) or "")),
            str(clean(row.get("description")) or ""), bool(row["overdue"]), thumbnail(photo)))
    return items


def list_table(problems: list[Problem], lang: str, with_community: bool) -> Table:
    cols = [Column(L("col_code", lang), 1.7), Column(L("col_category", lang), 1.7, wrap=True),
            Column(L("col_state", lang), 1.1), Column(L("col_reported", lang), 1.5),
            Column(L("col_days", lang), 1.0, "R")]
    cols += [Column(L("col_community", lang), 1.5)] if with_community else []
    cols += [Column(L("col_description", lang), 6.0, wrap=True), Column(L("col_photo", lang), 1.6, "C", image=True)]
    rows = []
    for p in problems:
        days = f"{p.days_open} {L('overdue_mark', lang)}" if p.overdue else str(p.days_open)
        rows.append([p.code, p.category, p.state, p.reported, days, *([p.community] if with_community else []),
                     p.description, p.thumbnail])
    title = f"{L('open_list', lang)}（{len(problems)}）" if lang == "zh" else f"{L('open_list', lang)} ({len(problems)})"
    return Table("open_list", title, cols, rows, [p.overdue for p in problems])


def notes(summary: dict, opts: Options) -> list[str]:
    lang, p = opts.lang, summary["problems"]
    return [L("overdue_line", lang, open=p["open"], overdue=p["overdue"], days=opts.overdue_days),
            L("note_target", lang),
            L("note_assign", lang, lane=f"{opts.lane_buffer_m:g}", market=f"{opts.market_buffer_m:g}"),
            L("note_asof", lang)]


def build_snapshot(data: SnapshotData, area: Area, figures: list[Figure], opts: Options,
                   with_list: bool = True) -> Snapshot:
    """Everything one snapshot shows, for ``area`` on ``data``'s as-of date."""
    lang, layout = opts.lang, opts.layout
    sel = select(data, area)
    summary = {"works": stats.works(sel, data.registry, lang),
               "targets": stats.targets(sel, figures, subdistrict_values(data, figures), lang),
               "problems": stats.problems(sel, opts.overdue_days)}
    tables = [t for t in (works_table(summary["works"], lang), targets_table(summary["targets"], lang),
                          problems_table(summary["problems"], lang)) if t.rows]
    items = problem_items(sel, data, opts) if with_list else None
    summary["open_problems"] = [p.code for p in items] if items is not None else None
    png, note = render_map(data, area, sel, layout.map_box[2:], lang, mpl_families(opts.font), opts.dpi,
                           layout.scale, overview=area.kind == "subdistrict", basemap_url=opts.basemap_url)
    today = (opts.now or dt.datetime.now()).date()
    subtitle = " · ".join([SUBDISTRICT["en" if lang == "en" else "zh"], area.kind_label(lang),
                           f"{L('as_of', lang)} {data.as_of.isoformat()}", f"{L('printed', lang)} {today.isoformat()}"])
    return Snapshot(area, lang, layout, area.title(lang), subtitle, data.as_of, opts.now or dt.datetime.now(),
                    data.data_version, png, tables, notes(summary, opts), items, summary, sel.empty, note)
