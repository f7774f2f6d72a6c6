"""The planner map page, built with Folium.

Folium draws the map, the basemaps, one (empty) overlay group per layer and the
layer control. The data is not inlined: ``static/gisapp-map.js`` fills each group
from ``/api/map/<layer>.geojson`` with the page's filters, for the current view
where a layer is big, with server-side clusters where a view holds too many points.
"""
from __future__ import annotations

from dataclasses import dataclass

import folium
from folium.plugins import Draw

from .mapdata import REPORTS, MapFilter
from .registry import LayerDef
from .storage import Store
from .vocab import STATUSES

INLINE_LIMIT = 20_000  # a layer with more features than this is fetched per view

BASEMAPS = {
    "none": {"zh": "无底图", "en": "No basemap"},
    "osm": {"zh": "OpenStreetMap", "en": "OpenStreetMap"},
    "tianditu": {"zh": "天地图", "en": "Tianditu"},
    "amap": {"zh": "高德地图（GCJ-02）", "en": "AMap (GCJ-02)"},
}
REPORTS_TITLE = {"zh": "问题上报", "en": "Field reports"}


@dataclass
class MapSettings:
    center: list[float]
    zoom: int
    osm_tiles: str
    tianditu_key: str | None
    amap_tiles: str
    basemap: str


def _basemaps(m: folium.Map, s: MapSettings, lang: str) -> dict[str, str]:
    """Adds the basemap choices; returns basemap key -> JS variable name."""
    layers = {"none": folium.FeatureGroup(name=BASEMAPS["none"][lang], overlay=False)}
    layers["osm"] = folium.TileLayer(s.osm_tiles, name=BASEMAPS["osm"][lang], max_zoom=19, overlay=False,
                                     attr='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>')
    if s.tianditu_key:
        url = ("https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec"
               "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=" + s.tianditu_key)
        layers["tianditu"] = folium.TileLayer(url, name=BASEMAPS["tianditu"][lang], attr="&copy; 天地图",
                                              subdomains="01234567", max_zoom=18, overlay=False)
    layers["amap"] = folium.TileLayer(s.amap_tiles, name=BASEMAPS["amap"][lang], attr="&copy; 高德地图",
                                      subdomains="1234", max_zoom=18, overlay=False)
    chosen = s.basemap if s.basemap in layers else "none"
    for key, layer in layers.items():
        layer.show = key == chosen
        layer.add_to(m)
    return {key: layer.get_name() for key, layer in layers.items()}


def _layer_config(layer: LayerDef, group: folium.FeatureGroup, big: bool) -> dict:
    st = layer.style
    return {"id": layer.id, "group": group.get_name(), "bbox": big, "point": layer.geometry.endswith("Point"),
            "weight": st.weight, "fill_opacity": st.fill_opacity, "radius": st.radius, "dash": st.dash}


def _shown(layer_id: str, default: bool, filt: MapFilter) -> bool:
    return layer_id in filt.layers if filt.layers else default


def _extent(store: Store, filt: MapFilter):
    """The filtered community, else the subdistrict (the first admin layer without a community)."""
    if filt.community and "communities" in store.registry:
        gdf = store.read("communities", where={"code": filt.community}, columns=["code"])
    else:
        outline = next((l for l in store.registry if l.kind == "admin" and l.community_field is None), None)
        gdf = store.read(outline.id, columns=[outline.link_field]) if outline else None
    return None if gdf is None or gdf.empty else gdf.total_bounds


def build_map(store: Store, settings: MapSettings, filt: MapFilter, lang: str,
              public: bool = False, editor: bool = False) -> tuple[folium.Map, dict]:
    """The Folium map and the configuration its script reads (``public``: public layers only)."""
    m = folium.Map(location=settings.center, zoom_start=settings.zoom, tiles=None, max_zoom=19,
                   control_scale=True, prefer_canvas=True)
    basemaps = _basemaps(m, settings, lang)
    layers = []
    for layer in (l for l in store.registry if l.public or not public):
        group = folium.FeatureGroup(name=layer.title.get(lang), show=_shown(layer.id, layer.visible, filt))
        group.add_to(m)
        layers.append(_layer_config(layer, group, store.count(layer.id, limit=INLINE_LIMIT + 1) > INLINE_LIMIT))
    if not public:
        group = folium.FeatureGroup(name=REPORTS_TITLE[lang], show=_shown(REPORTS, False, filt))
        group.add_to(m)
        layers.append({"id": REPORTS, "group": group.get_name(), "bbox": True, "point": True, "weight": 1,
                       "fill_opacity": 0.8, "radius": 4, "dash": None})
    folium.LayerControl(collapsed=False).add_to(m)
    if editor:  # admins draw new features (the Draw plug-in, served locally)
        Draw(export=False, position="topleft", draw_options={"circle": False, "circlemarker": False}).add_to(m)
    extent = _extent(store, filt)
    if extent is not None:
        m.fit_bounds([[extent[1], extent[0]], [extent[3], extent[2]]])
    config = {"map": m.get_name(), "layers": layers, "basemaps": basemaps, "filters": filt.query(),
              "lang": lang, "api": "/api", "statuses": {k: v[lang] for k, v in STATUSES.items()}, "status_order": list(STATUSES),
              "editor": editor, "edit_layers": [{"id": l.id, "title": l.title.get(lang), "geometry": l.geometry}
                                                for l in store.registry if editor and l.kind != "context"]}
    return m, config
