"""The static map of a snapshot: Matplotlib (Agg) on GeoPandas, drawn in a metric CRS.

Works coloured by their status (each layer's style from the registry), labels for lanes,
compounds, renovation areas and markets, open problems marked by category, the area's outline
with the outside dimmed, a legend, a scale bar in metres and a north arrow. In EPSG:4544 (CM 105E)
grid north differs from true north by under 0.02° around Fushun, so the arrow points up.
"""
from __future__ import annotations

import io
import math

import geopandas as gpd
import numpy as np
import shapely
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrow, Patch, Rectangle
from PIL import Image

from ..vocab import CATEGORIES, STATUSES
from .areas import Area, metric_crs
from .data import Selection, SnapshotData
from .text import L, pick

MM = 1 / 25.4
OUTLINE = "#d32f2f"
NO_RECORD = "#bdbdbd"
CATEGORY_COLORS = dict(zip(CATEGORIES, (
    "#6d4c41", "#f9a825", "#8e24aa", "#00838f", "#c62828", "#ff6f00",
    "#2e7d32", "#1565c0", "#d81b60", "#4e342e", "#558b2f", "#546e7a")))
LABELLED = ("back_lanes", "compounds", "renovation_areas", "markets")
HALO = [patheffects.withStroke(linewidth=2.2, foreground="white")]


def nice_length(span_m: float) -> float:
    """A round scale-bar length close to a fifth of ``span_m``."""
    target = max(span_m / 5, 1.0)
    base = 10 ** math.floor(math.log10(target))
    return max(s * base for s in (1, 2, 2.5, 5) if s * base <= target)


def _extent(geom, crs: str, aspect: float) -> tuple[float, float, float, float]:
    """Bounds around ``geom`` (projected) padded by 6 % and widened to the axes' aspect ratio."""
    minx, miny, maxx, maxy = gpd.GeoSeries([geom], crs="EPSG:4326").to_crs(crs).total_bounds
    w, h = max(maxx - minx, 100.0), max(maxy - miny, 100.0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    w, h = w * 1.12, h * 1.12
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


class MapPainter:
    """Draws one map; ``render`` returns PNG bytes."""

    def __init__(self, data: SnapshotData, area: Area, sel: Selection, size_mm: tuple[float, float],
                 lang: str, families, dpi: int = 150, scale: float = 1.0, overview: bool = False,
                 highlight: str | None = None):
        self.data, self.area, self.sel, self.lang = data, area, sel, lang
        self.families, self.dpi, self.fs, self.overview = list(families), dpi, 6.5 * scale, overview
        self.highlight = highlight
        self.crs = metric_crs(area.geometry)
        self.size = size_mm
        self.fig = Figure(figsize=(size_mm[0] * MM, size_mm[1] * MM), dpi=dpi)
        self.handles: list = []
        self.basemap_note = None
        self.has_basemap = False
        self._view: dict = {}
        self._frame(self._estimate_handles())
        real = self._count_handles()
        if real != self._planned:
            self._frame(real)

    def _frame(self, n_handles: int) -> None:
        """Map and legend boxes (figure fractions) for ``n_handles`` legend entries, and the map bounds."""
        w, h = self.size
        line_mm = self.fs * 1.55 * 25.4 / 72
        side = w / h >= 1.15
        if side:
            ncol = 1 if (n_handles + 1.5) * line_mm < h * 0.97 else 2
            legend_w = (0.27 if self.lang == "en" else 0.21) * ncol
            self.rect, self.legend_rect = [0.005, 0.005, 0.99 - legend_w - 0.01, 0.99], [1 - legend_w, 0.005, legend_w - 0.005, 0.99]
        else:
            ncol = 5 if w > 240 else 4
            rows = math.ceil(n_handles / ncol)
            legend_h = min(0.45, ((rows + 1.6) * line_mm + 2) / h)
            self.rect, self.legend_rect = [0.005, legend_h + 0.005, 0.99, 0.99 - legend_h - 0.005], [0.005, 0.0, 0.99, legend_h]
        self.legend_ncol, self._planned = ncol, n_handles
        self.ax_w = w * self.rect[2]
        aspect = (w * self.rect[2]) / (h * self.rect[3])
        self.bounds = _extent(self.area.geometry if not self.area.geometry.is_empty else self.area.outline,
                              self.crs, aspect)

    def _categories(self) -> list[str]:
        reports = self.sel.reports
        if reports.empty:
            return []
        return sorted(set(reports.loc[reports["open"], "category"]))

    def _estimate_handles(self) -> int:
        layers = sum(1 for lid, gdf in self.sel.layers.items()
                     if len(gdf) and self.data.registry.get(lid).kind == "work")
        return 8 + layers + len(self._categories())

    def _count_handles(self) -> int:
        layers = sum(1 for layer in self.data.registry
                     if layer.kind == "work" and layer.id in self.data.layers and len(self._in_view(layer.id)))
        comms = "communities" in self.data.layers and len(self._in_view("communities"))
        reach = not self.area.geometry.equals(self.area.outline)
        return 6 + bool(comms) + reach + layers + len(self._categories())

    # -- helpers -------------------------------------------------------------------------
    def _in_view(self, name: str) -> gpd.GeoDataFrame:
        """The rows of a layer whose bounding box meets the map (cached per map extent)."""
        key = (name, self.bounds)
        if key not in self._view:
            gdf = self.data.projected(name, self.crs)
            hits = gdf.sindex.query(shapely.box(*self.bounds)) if len(gdf) else []
            self._view[key] = gdf.iloc[sorted(hits)] if len(gdf) else gdf
        return self._view[key]

    def _text(self, x, y, text, size=None, color="#212121", **kw):
        self.ax.text(x, y, text, fontsize=size or self.fs, color=color, family=self.families,
                     ha="center", va="center", path_effects=HALO, zorder=kw.pop("zorder", 8), clip_on=True, **kw)

    # -- layers --------------------------------------------------------------------------
    def draw_context(self):
        comms = self._in_view("communities") if "communities" in self.data.layers else None
        if comms is not None and len(comms):
            comms.plot(ax=self.ax, facecolor="none" if self.has_basemap else "#f7f7f5", edgecolor="#9e9e9e", linewidth=0.6, zorder=1)
            if self.overview or self.area.kind in ("community", "bbox"):
                own = self.area.name if self.area.kind == "community" else None  # the title names it
                for geom, name in zip(comms.geometry, comms["name"]):
                    if name == own:
                        continue
                    p = geom.representative_point()
                    self._text(p.x, p.y, str(name), size=self.fs * (1.0 if self.overview else 0.9),
                               color="#757575", zorder=2)
            self.handles.append(Line2D([], [], color="#9e9e9e", lw=0.8, label=L("legend_community", self.lang)))
        sub = self._in_view("subdistrict") if "subdistrict" in self.data.layers else None
        if sub is not None and len(sub):
            sub.boundary.plot(ax=self.ax, color="#757575", linewidth=1.0, linestyle=(0, (6, 3)), zorder=1.5)

    def draw_works(self):
        shown = []
        for layer in self.data.registry:
            if layer.kind != "work" or layer.id not in self.data.layers:
                continue
            gdf = self._in_view(layer.id)
            if gdf.empty:
                continue
            status = gdf["status"] if "status" in gdf else [None] * len(gdf)
            colors = [layer.style.status_color(s) if s is not None else
                      (NO_RECORD if layer.style.by_status else layer.style.color) for s in status]
            dim = self.highlight is not None and layer.id != self.highlight
            self._plot_layer(layer, gdf, colors, dim)
            shown.append(layer)
        self._layer_handles(shown)

    def _plot_layer(self, layer, gdf, colors, dim: bool):
        s, alpha = layer.style, 0.35 if dim else 1.0
        kind = layer.geometry.replace("Multi", "")
        if kind == "Polygon":
            gdf.plot(ax=self.ax, color=colors, alpha=max(s.fill_opacity, 0.3) * alpha, linewidth=0, zorder=3)
            gdf.boundary.plot(ax=self.ax, color=colors, linewidth=0.8, alpha=alpha, zorder=3.1)
        elif kind == "LineString":
            gdf.plot(ax=self.ax, color=colors, linewidth=max(s.weight * 0.45, 0.8), alpha=alpha, zorder=4)
        else:
            size = (s.radius * 1.1) ** 2 * (0.5 if self.overview else 1.0)
            edge = "white" if s.radius >= 3 and not self.overview else "none"
            gdf.plot(ax=self.ax, color=colors, markersize=size, edgecolor=edge, linewidth=0.3,
                     alpha=alpha, zorder=5)

    def _layer_handles(self, layers):
        for status, v in STATUSES.items():
            self.handles.append(Patch(facecolor=v["color"], edgecolor=v["color"], label=pick(v, self.lang)))
        self.handles.append(Patch(facecolor=NO_RECORD, edgecolor=NO_RECORD, label=L("col_none", self.lang)))
        for layer in layers:
            kind = layer.geometry.replace("Multi", "")
            label = layer.title.get(self.lang)
            if kind == "LineString":
                h = Line2D([], [], color="#424242", lw=2, label=label)
            elif kind == "Polygon":
                h = Patch(facecolor="#e0e0e0", edgecolor="#424242", label=label)
            else:
                h = Line2D([], [], marker="o", color="#424242", lw=0, markersize=3 + layer.style.radius / 3,
                           label=label)
            self.handles.append(h)

    def draw_area(self):
        if self.area.geometry.is_empty:
            return
        crs, (minx, miny, maxx, maxy) = self.crs, self.bounds
        reach = gpd.GeoSeries([self.area.geometry], crs="EPSG:4326").to_crs(crs)
        frame = shapely.box(minx - 10, miny - 10, maxx + 10, maxy + 10)
        mask = gpd.GeoSeries([frame.difference(reach.iloc[0])], crs=crs)
        mask.plot(ax=self.ax, color="#757575", alpha=0.22, linewidth=0, zorder=6)
        if not self.area.geometry.equals(self.area.outline):
            reach.boundary.plot(ax=self.ax, color=OUTLINE, linewidth=1.0, linestyle=(0, (4, 2)), zorder=7)
            self.handles.insert(0, Line2D([], [], color=OUTLINE, lw=1.0, ls=(0, (4, 2)),
                                          label=L("legend_reach", self.lang)))
        if not self.area.outline.geom_type.endswith("LineString"):
            outline = gpd.GeoSeries([self.area.outline], crs="EPSG:4326").to_crs(crs)
            outline.boundary.plot(ax=self.ax, color=OUTLINE, linewidth=1.8, zorder=7)
        self.handles.insert(0, Line2D([], [], color=OUTLINE, lw=1.8, label=L("legend_area", self.lang)))

    def draw_problems(self):
        reports = self.sel.reports
        if reports.empty:
            return
        open_ = reports[reports["open"]]
        if open_.empty:
            return
        proj = open_.to_crs(self.crs)
        for cat, group in proj.groupby("category"):
            color = CATEGORY_COLORS.get(cat, "#000000")
            self.ax.scatter(group.geometry.x, group.geometry.y, marker="^", s=34 if not self.overview else 16,
                            color=color, edgecolor="black", linewidth=0.5, zorder=9)
            self.handles.append(Line2D([], [], marker="^", color=color, markeredgecolor="black", lw=0,
                                       markersize=5, label=pick(CATEGORIES.get(cat, {"zh": cat, "en": cat}), self.lang)))

    def draw_labels(self):
        if self.overview:
            return
        for layer_id in LABELLED:
            gdf = self.sel.layers.get(layer_id)
            if gdf is None or gdf.empty or layer_id not in self.data.registry:
                continue
            name_field = self.data.registry.get(layer_id).name_field
            proj = gdf.to_crs(self.crs)
            for geom, name in zip(proj.geometry, proj[name_field]):
                if geom is None or geom.is_empty:
                    continue
                p = geom.interpolate(0.5, normalized=True) if geom.geom_type.endswith("LineString") \
                    else geom.representative_point()
                self._text(p.x, p.y, str(name), size=self.fs * 1.05, zorder=10)

    # -- furniture -----------------------------------------------------------------------
    def draw_scale_bar(self):
        minx, miny, maxx, maxy = self.bounds
        span = maxx - minx
        length = nice_length(span)
        x0, y0 = minx + span * 0.04, miny + (maxy - miny) * 0.04
        h = (maxy - miny) * 0.012
        self.ax.add_patch(Rectangle((x0 - span * 0.015, y0 - h * 1.5), length + span * 0.07, h * 6.2,
                                    facecolor="white", alpha=0.85, edgecolor="none", zorder=11))
        for i in range(4):
            self.ax.add_patch(Rectangle((x0 + i * length / 4, y0), length / 4, h, zorder=12,
                                        facecolor="black" if i % 2 == 0 else "white", edgecolor="black", lw=0.5))
        unit = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
        for x, text in ((x0, "0"), (x0 + length, unit)):
            self.ax.text(x, y0 + h * 1.6, text, fontsize=self.fs, ha="center", va="bottom", zorder=12,
                         family=self.families)

    def draw_north_arrow(self):
        minx, miny, maxx, maxy = self.bounds
        w, h = maxx - minx, maxy - miny
        x, y = maxx - w * 0.06, maxy - h * 0.17
        self.ax.add_patch(FancyArrow(x, y, 0, h * 0.09, width=w * 0.012, head_width=w * 0.04,
                                     head_length=h * 0.05, length_includes_head=True, color="black", zorder=12))
        self.ax.text(x, y + h * 0.105, "N", fontsize=self.fs * 1.4, ha="center", va="bottom",
                     fontweight="bold", zorder=12, path_effects=HALO, family=self.families)

    def draw_legend(self):
        """The legend in its own box of the figure (a figure legend: no second Axes to set up)."""
        x, y, _, h = self.legend_rect
        leg = self.fig.legend(handles=self.handles, loc="upper left", bbox_to_anchor=(x, y + h),
                              bbox_transform=self.fig.transFigure, ncol=self.legend_ncol, frameon=False,
                              title=L("legend", self.lang), title_fontsize=self.fs * 1.1, alignment="left",
                              handlelength=1.6, borderaxespad=0.2, columnspacing=1.0,
                              prop={"family": self.families, "size": self.fs})
        leg.get_title().set_family(self.families)

    def render(self, basemap_url: str | None = None) -> bytes:
        self.ax = self.fig.add_axes(self.rect)
        minx, miny, maxx, maxy = self.bounds
        self.ax.set_xlim(minx, maxx)
        self.ax.set_ylim(miny, maxy)
        self.ax.set_aspect("equal", adjustable="box")
        self.ax.set_xticks([])
        self.ax.set_yticks([])
        for spine in self.ax.spines.values():
            spine.set_color("#616161")
        if basemap_url:
            from .basemap import draw_basemap
            self.has_basemap = draw_basemap(self.ax, self.bounds, self.crs, basemap_url, self.dpi, self.ax_w)
            if not self.has_basemap:
                self.basemap_note = L("basemap_off", self.lang)
        self.draw_context()
        self.draw_works()
        self.draw_area()
        self.draw_problems()
        self.draw_labels()
        if self.sel.empty:
            self.ax.text(0.5, 0.5, L("empty", self.lang), transform=self.ax.transAxes, ha="center", va="center",
                         fontsize=self.fs * 1.4, color="#616161", family=self.families, path_effects=HALO, zorder=13)
        self.draw_scale_bar()
        self.draw_north_arrow()
        self.draw_legend()
        self.ax.set_xlabel("")
        self.ax.set_ylabel("")
        self.ax.set_xlim(minx, maxx)
        self.ax.set_ylim(miny, maxy)
        return self._png()

    def _png(self) -> bytes:
        """RGB PNG, lightly compressed: the PDF re-encodes the pixels anyway (no alpha mask to carry)."""
        canvas = FigureCanvasAgg(self.fig)
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[:, :, :3]
        out = io.BytesIO()
        Image.fromarray(rgb, "RGB").save(out, "PNG", compress_level=2, dpi=(self.dpi, self.dpi))
        return out.getvalue()


def render_map(data: SnapshotData, area: Area, sel: Selection, size_mm, lang: str, families,
               dpi: int = 150, scale: float = 1.0, overview: bool = False, highlight: str | None = None,
               basemap_url: str | None = None) -> tuple[bytes, str | None]:
    """The map as PNG bytes, and a note when a configured basemap could not be drawn."""
    painter = MapPainter(data, area, sel, size_mm, lang, families, dpi, scale, overview, highlight)
    png = painter.render(basemap_url)
    return png, painter.basemap_note
