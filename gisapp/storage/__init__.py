"""Storage: one interface, chosen by URL.

- a file path, ``gpkg:///path/file.gpkg`` → :class:`GeoPackageStore` (embedded default)
- ``postgresql://…`` → the PostGIS store (imported lazily, only when used)
"""
from __future__ import annotations

from ..errors import StoreError
from ..registry import Registry
from .base import Store, Writer

__all__ = ["Store", "Writer", "open_store"]


def open_store(url: str, registry: Registry) -> Store:
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from .postgis import PostGISStore  # noqa: PLC0415 - optional backend
        except ImportError:
            raise StoreError("the PostGIS backend is not available in this version; "
                             "use a GeoPackage path for GISAPP_DATABASE") from None
        return PostGISStore(url, registry)
    if "://" in url and not url.startswith(("gpkg://", "geopackage://", "file://")):
        raise StoreError(f"unsupported database URL: {url.split('://')[0]}:// "
                         "(use a .gpkg path or postgresql://)")
    from .geopackage import GeoPackageStore
    return GeoPackageStore(url, registry)
