"""What the phone upload page needs, built once per request and put in the page:
outlines for the small tap-to-place map and the work features a report can link to."""
from __future__ import annotations

import shapely

from ..storage import Store
from ..vocab import CATEGORIES
from . import Settings

OUTLINE_LAYERS = ("subdistrict", "communities", "back_lanes")
LINK_LAYERS = ("back_lanes", "compounds", "markets")
SIMPLIFY_DEG = 0.00002  # ~2 m
MAX_LINKS = 2000


def _features(store: Store, layer_id: str) -> list[dict]:
    if layer_id not in store.registry:
        return []
    layer = store.registry.get(layer_id)
    gdf = store.read(layer_id, columns=[layer.name_field])
    geoms = shapely.set_precision(shapely.simplify(gdf.geometry.values, SIMPLIFY_DEG), 1e-6)
    return [{"type": "Feature", "geometry": shapely.geometry.mapping(g), "properties": {"layer": layer_id, "name": str(n)}}
            for g, n in zip(geoms, gdf[layer.name_field]) if g is not None and not g.is_empty]


def _links(store: Store, lang: str) -> list[dict]:
    out = []
    for layer_id in LINK_LAYERS:
        if layer_id not in store.registry:
            continue
        layer = store.registry.get(layer_id)
        gdf = store.read(layer_id, columns=[layer.link_field, layer.name_field], limit=MAX_LINKS)
        points = shapely.point_on_surface(gdf.geometry.values)
        out += [{"layer": layer_id, "layer_title": layer.title.get(lang), "code": str(c), "name": str(n),
                 "lon": round(p.x, 6), "lat": round(p.y, 6)}
                for c, n, p in zip(gdf[layer.link_field], gdf[layer.name_field], points)]
    return out


def outline(store: Store) -> dict:
    """Subdistrict, community outlines and lanes, simplified: the reference drawn on small maps."""
    return {"type": "FeatureCollection", "features": [f for layer in OUTLINE_LAYERS for f in _features(store, layer)]}


def upload_page_config(store: Store, settings: Settings, center, lang: str) -> dict:
    return {
        "center": list(center), "zoom": 14,
        "outline": outline(store),
        "links": _links(store, lang),
        "categories": [{"code": k, "label": v[lang]} for k, v in CATEGORIES.items()],
        "max_photos": settings.max_photos, "max_photo_mb": settings.max_photo_mb,
        "lang": lang, "text": TEXT[lang],
    }


# Text the upload page's script shows, by language.
TEXT = {
    "zh": {
        "locating": "正在获取手机定位…", "no_position": "还没有位置：请允许定位、使用带位置信息的照片，或在地图上点选",
        "geo_denied": "无法获取手机定位（{reason}），请在地图上点选位置", "poor": "定位精度较差，请在地图上确认",
        "position": "将使用的位置：{lat}, {lon}", "source": "来源：{source}", "accuracy": "精度 ±{acc} 米",
        "src_geolocation": "手机定位", "src_exif": "照片位置信息", "src_map": "地图选点",
        "need_photo": "请至少拍摄或选择一张照片", "need_category": "请选择问题类别", "need_position": "请先确定位置",
        "too_many": "照片最多 {n} 张", "too_big": "照片 {name} 超过 {mb} MB", "sending": "正在发送…",
        "sent": "已上报，编号 {code}", "view": "查看详情", "again": "再报一个", "remove": "删除",
        "failed": "发送失败（{reason}），草稿已保存在手机上，可点“重试发送”", "offline": "网络不可用",
        "refused": "未能上报：{message}", "draft": "已恢复上次未发送的草稿（{when}）", "discard": "丢弃草稿",
        "login": "登录已过期，请重新登录后重试（草稿已保存）", "duplicate": "注意：附近 7 天内已有同类问题 {code}，已标记为疑似重复",
        "photo_gps": "含位置", "no_link": "不关联", "assigned": "社区：{community}",
    },
    "en": {
        "locating": "Getting the phone's location…", "no_position": "No position yet: allow location, use a photo with GPS, or tap the map",
        "geo_denied": "No phone location ({reason}); tap the map to place the report", "poor": "Location is imprecise; check it on the map",
        "position": "Position to be sent: {lat}, {lon}", "source": "from: {source}", "accuracy": "±{acc} m",
        "src_geolocation": "phone location", "src_exif": "photo GPS (EXIF)", "src_map": "tapped on the map",
        "need_photo": "Take or choose at least one photo", "need_category": "Choose a category", "need_position": "Set the position first",
        "too_many": "At most {n} photos", "too_big": "Photo {name} is over {mb} MB", "sending": "Sending…",
        "sent": "Reported: {code}", "view": "Open the report", "again": "Report another", "remove": "Remove",
        "failed": "Sending failed ({reason}). The draft is kept on this phone; press “Retry”", "offline": "no network",
        "refused": "Not accepted: {message}", "draft": "Restored the unsent draft ({when})", "discard": "Discard the draft",
        "login": "Your session expired; log in again and retry (the draft is kept)",
        "duplicate": "Note: a report of the same kind ({code}) is open nearby; flagged as a possible duplicate",
        "photo_gps": "GPS", "no_link": "None", "assigned": "Community: {community}",
    },
}
