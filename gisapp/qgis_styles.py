"""QGIS styling hints for exported GeoPackages: a ``layer_styles`` table.

QGIS reads the default style of a GeoPackage layer from ``layer_styles``
(``styleQML`` with ``useAsDefault``). Each layer gets the colours of the web
map: by progress status (categorised on ``status``) when the layer is styled
by status, one symbol otherwise. Symbol properties are written both as
``<Option>`` maps (QGIS ≥ 3.26) and as ``<prop>`` pairs (older 3.x).
"""
from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import quoteattr

import pandas as pd

from .catalog import Collection
from .registry import Style
from .vocab import STATUSES

PX_TO_MM = 0.26
REPORT_STYLE = Style(color="#d32f2f", radius=4)


def _rgba(hex_color: str, alpha: float = 1.0) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"{r},{g},{b},{round(alpha * 255)}"


def _props(values: dict[str, str]) -> str:
    options = "".join(f'<Option name={quoteattr(k)} type="QString" value={quoteattr(v)}/>' for k, v in values.items())
    props = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in values.items())
    return f'<Option type="Map">{options}</Option>{props}'


def _symbol_layer(geometry: str, style: Style, color: str) -> tuple[str, str]:
    """(symbol type, <layer> element) for one colour."""
    if "Point" in geometry:
        values = {"name": "circle", "color": _rgba(color), "outline_color": "255,255,255,255",
                  "outline_width": "0.2", "size": f"{style.radius * 2 * PX_TO_MM:.2f}"}
        return "marker", f'<layer class="SimpleMarker" enabled="1" locked="0" pass="0">{_props(values)}</layer>'
    if "LineString" in geometry:
        values = {"line_color": _rgba(color), "line_width": f"{style.weight * PX_TO_MM:.2f}",
                  "line_style": "dash" if style.dash else "solid", "capstyle": "round", "joinstyle": "round"}
        return "line", f'<layer class="SimpleLine" enabled="1" locked="0" pass="0">{_props(values)}</layer>'
    values = {"color": _rgba(color, style.fill_opacity), "style": "solid", "outline_color": _rgba(style.color),
              "outline_width": f"{max(style.weight, 0.5) * PX_TO_MM:.2f}", "outline_style": "solid"}
    return "fill", f'<layer class="SimpleFill" enabled="1" locked="0" pass="0">{_props(values)}</layer>'


def _symbol(name: str, geometry: str, style: Style, color: str) -> str:
    kind, layer = _symbol_layer(geometry, style, color)
    return f'<symbol name="{name}" type="{kind}" alpha="1" clip_to_extent="1" force_rhr="0">{layer}</symbol>'


def qml(coll: Collection) -> str:
    """A QGIS QML style: categorised by status, or a single symbol."""
    style = coll.layer.style if coll.layer else REPORT_STYLE
    head = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" \
           '<qgis version="3.28.0" styleCategories="Symbology">'
    if not (coll.progress and style.by_status):
        body = ('<renderer-v2 type="singleSymbol" forceraster="0" symbollevels="0" enableorderby="0">'
                f"<symbols>{_symbol('0', coll.geometry, style, style.color)}</symbols></renderer-v2>")
        return head + body + "</qgis>"
    statuses = list(STATUSES)
    cats = "".join(f'<category symbol="{i}" value={quoteattr(s)} label={quoteattr(STATUSES[s]["zh"] + " " + STATUSES[s]["en"])} '
                   'render="true" type="string"/>' for i, s in enumerate(statuses))
    cats += f'<category symbol="{len(statuses)}" value="" label="暂无进度记录 No record" render="true" type="string"/>'
    symbols = "".join(_symbol(str(i), coll.geometry, style, style.status_color(s)) for i, s in enumerate(statuses))
    symbols += _symbol(str(len(statuses)), coll.geometry, style, "#9e9e9e")
    body = ('<renderer-v2 type="categorizedSymbol" attr="status" forceraster="0" symbollevels="0" enableorderby="0">'
            f"<categories>{cats}</categories><symbols>{symbols}</symbols></renderer-v2>")
    return head + body + "</qgis>"


def layer_styles(colls: list[Collection]) -> pd.DataFrame:
    """Rows of the ``layer_styles`` table QGIS reads (one default style per layer)."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.DataFrame({
        "f_table_catalog": "", "f_table_schema": "", "f_table_name": [c.id for c in colls],
        "f_geometry_column": "geom", "styleName": [c.id for c in colls], "styleQML": [qml(c) for c in colls],
        "styleSLD": "", "useAsDefault": True, "description": [f"gisapp: {c.title.zh} {c.title.en}" for c in colls],
        "owner": "gisapp", "ui": "", "update_time": now,
    })
