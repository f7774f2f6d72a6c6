"""Storage: one interface, chosen by URL.

- a file path, ``gpkg:///path/file.gpkg`` → :class:`GeoPackageStore` (embedded default)
- ``postgresql://…`` → :class:`PostGISStore` (imported lazily, only when used; needs psycopg)
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
            raise StoreError("the PostGIS backend cannot be loaded; "
                             "install it with pip install 'gisapp[postgis]'") from None
        return PostGISStore(url, registry)
    if "://" in url and not url.startswith(("gpkg://", "geopackage://", "file://")):
        raise StoreError(f"unsupported database URL: {url.split('://')[0]}:// "
                         "(use a .gpkg path or postgresql://)")
    from .geopackage import GeoPackageStore
    return GeoPackageStore(url, registry)
