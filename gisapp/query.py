"""Feature queries over the Store interface, shared by the OGC API and the exports.

A :class:`Query` holds already validated values. :func:`run` returns one page
of a collection with each layer feature's progress state joined, and the
number of features matched. Only ``Store.read``/``Store.count`` are used, so
every storage backend serves it unchanged.

Two paths:

- SQL paging (the usual case): ``count`` and ``read(limit, offset)`` with the
  filters, bbox and (few) feature codes pushed down to the store.
- Exact paging: when progress filters match many features, or a bbox meets a
  line/polygon layer (the store's bbox count counts index boxes, its read
  refines exactly), every candidate is read and the page is cut in Python.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from .catalog import Collection
from .progress import feature_state, latest
from .storage import Store

IN_LIMIT = 500  # at most this many feature codes go into one SQL IN (...)
PAGE_CODES_LIMIT = 1000  # above this, a page's progress is read for the whole layer


@dataclass(frozen=True)
class Query:
    bbox: tuple[float, float, float, float] | None = None
    where: dict = field(default_factory=dict)  # column -> value (equality) or {op: value}
    statuses: tuple[str, ...] = ()  # progress statuses (layers with progress)
    as_of: dt.date | None = None  # progress state on this date (None: latest)
    since: dt.date | None = None  # only features with a progress record in [since, as_of]
    require_record: bool = False  # only features with a progress record on or before as_of
    limit: int | None = None
    offset: int = 0

    @property
    def filters_progress(self) -> bool:
        return bool(self.statuses) or self.since is not None or self.require_record


@dataclass
class Result:
    frame: pd.DataFrame  # a GeoDataFrame indexed by fid, state columns joined
    matched: int


def progress_columns(coll: Collection) -> list[str]:
    return ["layer", "feature_code", "record_date", "status", "percent", *coll.quantities]


def _records(store: Store, coll: Collection, as_of, codes=None) -> pd.DataFrame:
    where: dict = {"layer": coll.id}
    if as_of is not None:
        where["record_date"] = {"<=": as_of.isoformat()}
    if codes is not None:
        where["feature_code"] = list(codes)
    return store.read("progress", where=where, columns=progress_columns(coll), order_by="record_date")


def matching_codes(store: Store, coll: Collection, q: Query) -> set[str]:
    """Codes of the features whose progress meets the query's progress filters."""
    records = _records(store, coll, q.as_of)
    if q.since is not None:
        records = records[records["record_date"] >= q.since.isoformat()]
    state = latest(records)  # with a record in [since, as_of], the latest one is the state at as_of
    if q.statuses:
        state = state[state["status"].isin(q.statuses)]
    return set(state.index.get_level_values("feature_code"))


def _merge_codes(where: dict, column: str, codes: set[str]) -> dict:
    where = dict(where)
    given = where.get(column)
    if given is None:
        where[column] = sorted(codes)
    else:
        where[column] = [given] if given in codes else []
    return where


def with_state(store: Store, coll: Collection, frame: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """The features with their progress state (status, percent, status_date, quantities) as of a date."""
    if not coll.progress:
        return frame
    codes = frame[coll.link_field].dropna().unique().tolist()
    records = _records(store, coll, as_of, codes if len(codes) <= PAGE_CODES_LIMIT else None)
    return feature_state(frame, records, coll.id, coll.link_field, quantities=coll.quantities)


def _read_all(store: Store, coll: Collection, where: dict, bbox, columns: list[str]) -> pd.DataFrame:
    """Every matching row; a bbox crossing the antimeridian (minx > maxx) is read as two boxes."""
    if bbox is None or bbox[0] <= bbox[2]:
        return store.read(coll.id, where=where, bbox=bbox, columns=columns)
    minx, miny, maxx, maxy = bbox
    east = store.read(coll.id, where=where, bbox=(minx, miny, 180.0, maxy), columns=columns)
    west = store.read(coll.id, where=where, bbox=(-180.0, miny, maxx, maxy), columns=columns)
    both = pd.concat([east, west])
    return both[~both.index.duplicated()].sort_index()


def run(store: Store, coll: Collection, q: Query, include_private: bool = True) -> Result:
    columns = coll.columns(include_private)
    if coll.link_field not in columns:
        columns = [coll.link_field, *columns]
    where = dict(q.where)
    codes = matching_codes(store, coll, q) if coll.progress and q.filters_progress else None
    exact = (codes is not None and len(codes) > IN_LIMIT) or (q.bbox is not None and coll.geometry != "Point") \
        or (q.bbox is not None and q.bbox[0] > q.bbox[2])
    if exact:
        frame = _read_all(store, coll, where, q.bbox, columns)
        if codes is not None:
            frame = frame[frame[coll.link_field].isin(codes)]
        matched = len(frame)
        stop = None if q.limit is None else q.offset + q.limit
        frame = frame.iloc[q.offset:stop]
    else:
        if codes is not None:
            where = _merge_codes(where, coll.link_field, codes)
        matched = store.count(coll.id, where=where, bbox=q.bbox)
        if q.offset >= matched or q.limit == 0:
            frame = store.read(coll.id, where=where, bbox=q.bbox, columns=columns, limit=0)
        else:
            frame = store.read(coll.id, where=where, bbox=q.bbox, columns=columns, limit=q.limit, offset=q.offset)
    return Result(with_state(store, coll, frame, q.as_of), matched)


def get_feature(store: Store, coll: Collection, fid: int, include_private: bool = True) -> pd.DataFrame:
    """One feature by fid (an empty frame when there is none), with its latest state."""
    columns = coll.columns(include_private)
    if coll.link_field not in columns:
        columns = [coll.link_field, *columns]
    frame = store.read(coll.id, where={"fid": fid}, columns=columns)
    return with_state(store, coll, frame)
