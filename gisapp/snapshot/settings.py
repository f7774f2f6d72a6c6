"""The ``SNAPSHOT_*`` settings (defaults, ``instance/gisapp.toml`` or ``GISAPP_SNAPSHOT_*``).

| setting | default | meaning |
| --- | --- | --- |
| ``SNAPSHOT_OVERDUE_DAYS`` | 30 | an open problem is overdue when reported more than this many days before the as-of date |
| ``SNAPSHOT_LANE_BUFFER_M`` | 30 | a lane's area: the lane widened by this many metres each side |
| ``SNAPSHOT_MARKET_BUFFER_M`` | 100 | a market's area: the market and this many metres around it |
| ``SNAPSHOT_BASEMAP`` | none | ``none``, ``osm`` (the ``OSM_TILES`` server) or a tile URL with {z}/{x}/{y} |
| ``SNAPSHOT_FONT`` | Noto Sans CJK SC | a .ttf/.otf/.ttc font file with Chinese glyphs |
| ``SNAPSHOT_FONT_CACHE`` | ~/.cache/gisapp/fonts | where the trimmed copy of the font is kept |
| ``SNAPSHOT_FONT_BUILD`` | background | make that copy in the ``background`` (full font meanwhile), ``sync`` or ``never`` |
| ``SNAPSHOT_PHOTO_DIR`` | instance/photos | the folder report photo paths are relative to |
"""
from __future__ import annotations

from pathlib import Path


def options_kwargs(config, instance_path: str, store=None) -> dict:
    """Keyword arguments of :class:`~gisapp.snapshot.document.Options` from the app's config.

    With ``store``, open problems show their first uploaded photo (``report_photos``)."""
    from .photos import column_lookup, store_lookup
    basemap = str(config.get("SNAPSHOT_BASEMAP", "none") or "none")
    basemap_url = config.get("OSM_TILES") if basemap == "osm" else (None if basemap == "none" else basemap)
    photo_dir = config.get("SNAPSHOT_PHOTO_DIR") or str(Path(instance_path) / "photos")
    photo_lookup = column_lookup(photo_dir)
    if store is not None:
        uploads = config.get("REPORT_UPLOADS") or str(Path(instance_path) / "uploads")
        photo_lookup = store_lookup(store, uploads, photo_lookup)
    return {"overdue_days": int(config.get("SNAPSHOT_OVERDUE_DAYS", 30)),
            "lane_buffer_m": float(config.get("SNAPSHOT_LANE_BUFFER_M", 30)),
            "market_buffer_m": float(config.get("SNAPSHOT_MARKET_BUFFER_M", 100)),
            "basemap_url": basemap_url, "font": config.get("SNAPSHOT_FONT") or None,
            "font_cache": config.get("SNAPSHOT_FONT_CACHE") or None,
            "font_build": str(config.get("SNAPSHOT_FONT_BUILD", "background")),
            "photo_lookup": photo_lookup}
