"""Area snapshots for officials: a print-ready page and a PDF per community, renovation area, lane,
market or rectangle, and the whole-subdistrict atlas. Plain Python (no Flask): the web blueprint
(:mod:`gisapp.web.snapshots`) and the CLI (:mod:`gisapp.snapshot.cli`) are thin layers over this.

Pipeline: :func:`~.data.load_data` (read the store once) → :func:`~.areas.resolve_area` →
:func:`~.document.build_snapshot` (select, figures, static map) → :func:`~.pdf.snapshot_pdf` or
the ``snapshot.html`` template; :func:`~.atlas.build_atlas` → :func:`~.atlas.atlas_pdf`.
"""
from __future__ import annotations

from .areas import KINDS, Area, resolve_area
from .atlas import ATLAS_LAYERS, Atlas, atlas_pdf, build_atlas
from .data import DataCache, SnapshotData, load_data, select
from .document import Options, Snapshot, build_snapshot
from .pdf import snapshot_pdf


def make_snapshot(store, figures, kind: str, key: str, opts: Options, data: SnapshotData | None = None,
                  with_list: bool = True) -> Snapshot:
    """The snapshot of the area ``kind``/``key`` (raises NotFound for an unknown area)."""
    data = data or load_data(store, opts.as_of)
    area = resolve_area(data.layers, store.registry, kind, key, opts.lane_buffer_m, opts.market_buffer_m)
    return build_snapshot(data, area, figures, opts, with_list)


__all__ = ["ATLAS_LAYERS", "KINDS", "Area", "Atlas", "DataCache", "Options", "Snapshot", "SnapshotData",
           "atlas_pdf", "build_atlas", "build_snapshot", "load_data", "make_snapshot", "resolve_area",
           "select", "snapshot_pdf"]
