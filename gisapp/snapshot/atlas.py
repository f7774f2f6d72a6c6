"""The atlas: one PDF with a cover (subdistrict totals against the published figures, an overview
map) and one page per feature of a layer (the 21 communities by default; also renovation areas,
back lanes or markets). The store is read once and every page reuses that data.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..errors import NotFound
from ..figures import Figure, compute
from . import stats
from .areas import ATLAS_LAYERS, feature_area, subdistrict_area
from .data import SnapshotData, load_data, select
from .document import Column, Options, Snapshot, Table, build_snapshot, notes, works_table
from .fonts import mpl_families
from .mapplot import render_map
from .pdf import draw_snapshot, finish, new_pdf
from .text import SUBDISTRICT, L, num, pct


@dataclass
class Atlas:
    layer: str
    cover: Snapshot
    pages: list[Snapshot]
    figures: list[dict]  # gisapp.figures.compute on the as-of date


def check_layer(layer: str, registry) -> str:
    if layer not in ATLAS_LAYERS or layer not in registry:
        raise NotFound({"zh": f"没有图层“{layer[:40]}”的图集，可用：{'、'.join(ATLAS_LAYERS)}",
                        "en": f"no atlas for layer '{layer[:40]}'; use one of {', '.join(ATLAS_LAYERS)}"})
    return layer


def layer_areas(data: SnapshotData, layer_id: str, opts: Options) -> list:
    layer = data.registry.get(layer_id)
    gdf = data.layers[layer_id].sort_values(layer.link_field)
    return [feature_area(ATLAS_LAYERS[layer_id], layer_id, row, layer.link_field, layer.name_field,
                         opts.lane_buffer_m, opts.market_buffer_m)
            for _, row in gdf.iterrows() if row.geometry is not None and not row.geometry.is_empty]


def cover_table(rows: list[dict], lang: str) -> Table:
    cols = [Column(L("col_figure", lang), 3.6, wrap=True), Column(L("col_value", lang), 1.5, "R"),
            Column(L("col_published", lang), 1.5, "R"), Column(L("col_progress", lang), 1.6, "R")]
    out = []
    for r in rows:
        label = r["label"]["en" if lang == "en" else "zh"]
        unit = r["unit"]["en" if lang == "en" else "zh"]
        mark = "≥" if r["comparison"] == "at_least" else ""
        verdict = L("ok", lang) if r["matches"] else L("not_ok", lang)
        out.append([f"{label}（{unit}）" if lang == "zh" and unit else label, num(r["value"]),
                    f"{mark}{num(r['published'])}", f"{pct(r['value'], r['published'])} {verdict}"])
    return Table("cover_figures", L("cover_figures", lang), cols, out, [not r["matches"] for r in rows])


def build_cover(data: SnapshotData, layer_id: str, computed: list[dict], figures: list[Figure],
                opts: Options, now) -> Snapshot:
    lang, layout = opts.lang, opts.layout
    area = subdistrict_area(data.layers)
    sel = select(data, area)
    rows = computed
    if layer_id != "communities":
        keys = {f.key for f in figures if f.source.layer == layer_id}
        rows = [r for r in computed if r["key"] in keys] or computed
    works = [w for w in stats.works(sel, data.registry, lang) if layer_id == "communities" or w["layer"] == layer_id]
    summary = {"works": works, "problems": stats.problems(sel, opts.overdue_days), "figures": rows}
    png, note = render_map(data, area, sel, layout.map_box[2:], lang, mpl_families(opts.font), opts.dpi,
                           layout.scale, overview=True,
                           highlight=None if layer_id == "communities" else layer_id, basemap_url=opts.basemap_url)
    title = L("atlas", lang) if layer_id == "communities" else \
        L("atlas_of", lang, layer=data.registry.get(layer_id).title.get(lang))
    subtitle = " · ".join([SUBDISTRICT["en" if lang == "en" else "zh"], f"{L('as_of', lang)} {data.as_of}",
                           f"{L('printed', lang)} {now.date()}"])
    tables = [t for t in (works_table(works, lang, quantities=False), cover_table(rows, lang)) if t.rows]
    return Snapshot(area, lang, layout, f"{SUBDISTRICT['en' if lang == 'en' else 'zh']} {title}" if lang == "zh"
                    else f"{title} · {SUBDISTRICT['en']}", subtitle, data.as_of, now, data.data_version, png,
                    tables, [*notes({"problems": summary["problems"]}, opts), L("list_in_snapshot", lang)],
                    None, summary, False, note)


def build_atlas(store, figures: list[Figure], opts: Options, layer: str = "communities",
                data: SnapshotData | None = None) -> Atlas:
    """The cover and one page per feature of ``layer``, all from one read of the store."""
    check_layer(layer, store.registry)
    data = data or load_data(store, opts.as_of)
    now = opts.now or dt.datetime.now()
    opts = Options(**{**opts.__dict__, "now": now})
    computed = compute(store, figures, data.as_of)
    cover = build_cover(data, layer, computed, figures, opts, now)
    pages = [build_snapshot(data, area, figures, opts, with_list=False) for area in layer_areas(data, layer, opts)]
    return Atlas(layer, cover, pages, computed)


def atlas_pdf(atlas: Atlas, opts: Options) -> tuple[bytes, list[tuple[str, int]]]:
    """The atlas as one PDF, and (title, first page) of the cover and every page."""
    pdf = new_pdf(atlas.cover.layout, [atlas.cover, *atlas.pages], opts, atlas.cover.title)
    index = [(atlas.cover.title, 1)]
    draw_snapshot(pdf, atlas.cover, bookmark=True)
    for page in atlas.pages:
        index.append((page.title, pdf.page_no() + 1))
        draw_snapshot(pdf, page, atlas=True, bookmark=True)
    return finish(pdf), index
