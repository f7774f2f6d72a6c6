"""Build the Folium map of every layer from the store.

Popup and tooltip HTML is made here, in Python, with every stored value
escaped; the page only binds the finished strings.
"""
from __future__ import annotations

from html import escape

import folium
import pandas as pd
from folium.utilities import JsCode

from .i18n import t
from .progress import feature_state
from .registry import LayerDef, Registry
from .storage import Store
from .vocab import REPORT_STATES, STATUSES, CATEGORIES

BIND = JsCode("""function (feature, layer) {
  var p = feature.properties;
  if (p._popup) { layer.bindPopup(p._popup, {maxWidth: 360}); }
  if (p._tooltip) { layer.bindTooltip(p._tooltip, {sticky: true}); }
}""")


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return str(value)


def popup_html(layer: LayerDef, row: dict, lang: str, communities: dict | None = None) -> str:
    """The popup of one feature; ``communities`` maps community codes to names."""
    title = escape(_fmt(row.get(layer.name_field)))
    names = communities or {}
    rows = [(f.title.get(lang), names.get(row.get(f.name), row.get(f.name)) if f.name == layer.community_field
             else row.get(f.name)) for f in layer.fields if f.name in layer.popup]
    if layer.progress:
        status = row.get("status")
        rows.append((t("status", lang), STATUSES[status][lang] if status in STATUSES else t("no_record", lang)))
        if status:
            rows.append((t("percent", lang), f"{_fmt(row.get('percent'))}%"))
            rows += [(f"{q.label(lang)}（{q.unit_label(lang)}）" if lang == "zh" else f"{q.label(lang)} ({q.unit_label(lang)})",
                      row.get(q.key)) for q in layer.quantities]
            rows.append((t("status_date", lang), row.get("status_date")))
    cells = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(_fmt(v))}</td></tr>" for k, v in rows)
    return f'<div class="gis-popup"><h4>{title}</h4><table>{cells}</table></div>'


def _style(layer: LayerDef):
    s = layer.style

    def style(feature):
        color = feature["properties"]["_color"]
        out = {"color": color, "weight": s.weight, "fillColor": color, "fillOpacity": s.fill_opacity}
        if s.dash:
            out["dashArray"] = s.dash
        if layer.geometry.endswith("Point"):
            out.update(radius=s.radius, weight=1, fillOpacity=max(s.fill_opacity, 0.6))
        return out
    return style


def layer_features(layer: LayerDef, gdf, lang: str, communities: dict | None = None) -> dict:
    """GeoJSON with ready-made, escaped _popup/_tooltip and a _color per feature."""
    records = gdf.drop(columns="geometry").to_dict("records")
    popups = [popup_html(layer, r, lang, communities) for r in records]
    tips = [escape(_fmt(r.get(layer.tooltip or layer.name_field))) for r in records]
    colors = [layer.style.status_color(r.get("status")) for r in records]
    out = gpd_to_geojson(gdf[["geometry"]].assign(_popup=popups, _tooltip=tips, _color=colors))
    return out


def gpd_to_geojson(gdf) -> dict:
    return gdf.__geo_interface__


def _add_layer(m: folium.Map, layer: LayerDef, gdf, lang: str, communities: dict) -> None:
    group = folium.FeatureGroup(name=escape(layer.title.get(lang)), show=layer.visible)
    marker = folium.CircleMarker() if layer.geometry.endswith("Point") else None
    folium.GeoJson(layer_features(layer, gdf, lang, communities), style_function=_style(layer),
                   on_each_feature=BIND, marker=marker).add_to(group)
    group.add_to(m)


def _reports_layer(m: folium.Map, store: Store, lang: str) -> None:
    gdf = store.read("reports", columns=["code", "category", "status", "reported_at"])
    if gdf.empty:
        return
    label = {"zh": "问题", "en": "Report"}[lang]
    gdf = gdf.assign(
        _popup=[f'<div class="gis-popup"><h4>{escape(label)} {escape(c)}</h4>'
                f'<p>{escape(CATEGORIES.get(cat, {}).get(lang, cat))} · {escape(REPORT_STATES.get(s, {}).get(lang, s))}'
                f'<br>{escape(str(at)[:10])}</p></div>'
                for c, cat, s, at in zip(gdf["code"], gdf["category"], gdf["status"], gdf["reported_at"])],
        _tooltip=[escape(CATEGORIES.get(c, {}).get(lang, c)) for c in gdf["category"]],
        _color=["#6a1b9a" if s == "closed" else "#d81b60" for s in gdf["status"]],
    )[["geometry", "_popup", "_tooltip", "_color"]]
    group = folium.FeatureGroup(name=t("reports", lang), show=False)
    folium.GeoJson(gpd_to_geojson(gdf), marker=folium.CircleMarker(radius=3), on_each_feature=BIND,
                   style_function=lambda f: {"color": f["properties"]["_color"], "weight": 1,
                                             "fillColor": f["properties"]["_color"], "fillOpacity": 0.7}
                   ).add_to(group)
    group.add_to(m)


def _legend(registry: Registry, lang: str) -> str:
    items = "".join(f'<li><i style="background:{v["color"]}"></i>{escape(v[lang])}</li>' for v in STATUSES.values())
    return (f'<div class="gis-legend"><b>{escape(t("legend", lang))}</b><ul>{items}</ul>'
            f'<small>{escape(t("illustrative", lang))}</small></div>')


def _community_names(store: Store) -> dict:
    if "communities" not in store.registry:
        return {}
    df = store.read("communities", columns=["code", "name"])
    return dict(zip(df["code"], df["name"]))


def build_map(store: Store, lang: str, basemap: str, osm_tiles: str, center, zoom: int) -> folium.Map:
    m = folium.Map(location=center, zoom_start=zoom, tiles=None, max_zoom=19, control_scale=True,
                   prefer_canvas=True)
    none = folium.FeatureGroup(name=t("basemap_none", lang), overlay=False, show=basemap != "osm")
    osm = folium.TileLayer(osm_tiles, name=t("basemap_osm", lang), max_zoom=19, show=basemap == "osm",
                           attr='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>')
    none.add_to(m)
    osm.add_to(m)
    records = store.progress()
    communities = _community_names(store)
    extent = None  # the first admin layer with data (the subdistrict) frames the map
    for layer in store.registry:
        gdf = store.read(layer.id)
        if layer.progress:
            gdf = feature_state(gdf, records, layer.id, layer.link_field, quantities=layer.quantity_keys)
        _add_layer(m, layer, gdf, lang, communities)
        if extent is None and layer.kind == "admin" and not gdf.empty:
            extent = gdf.total_bounds
    if extent is not None:
        m.fit_bounds([[extent[1], extent[0]], [extent[3], extent[2]]])
    _reports_layer(m, store, lang)
    folium.LayerControl(collapsed=False).add_to(m)
    m.get_root().html.add_child(folium.Element(_legend(store.registry, lang)))
    return m
