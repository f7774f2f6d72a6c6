"""Cluster counts kept ahead of time on PostGIS, so that a district or county view of a million
field reports is answered from a few thousand summary rows instead of every point.

``gisapp_report_cells`` holds, for the global grids of levels :data:`LEVELS` (see
:func:`gisapp.storage.base.grid`), one row per (cell, community, month of ``reported_at``) on the
coarse levels and per (cell, community) on the finest: the count and the sums of x and y. (Months
on a 140 m grid would hold about as many rows as there are points.) Statement-level triggers with transition tables keep it in step
with every INSERT (COPY included), UPDATE and DELETE on ``reports``, in the same transaction,
whoever writes (the app, QGIS, psql); the app's own large inserts pause the insert trigger and
add the same rows themselves (:func:`add`), faster. A cluster query at level L reads the summary of the next
maintained level ≥ L (one with months when the view is filtered by date), merges its cells
(``gx >> shift``), and adds the months that the date filter covers only in part from the reports
themselves, so the counts are exact. Views finer than the finest level, and filters the summary
cannot answer, fall back to clustering the points.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import shapely

from .base import Where, grid

TABLE, SUMMARY = "reports", "gisapp_report_cells"
VERSION = "3"  # of the summary's definition (kept as the table's comment): another value rebuilds it
LEVELS = {14: True, 16: True, 18: False}  # level: by month? Cells of ~2.2 km, ~550 m, ~140 m
GROUP, DATE = "community_code", "reported_at"

_FINE = """SELECT floor(x / {size!r})::int AS gx, floor(y / {size!r})::int AS gy, grp, month,
  count(*) AS n, sum(x) AS sx, sum(y) AS sy
FROM (SELECT ST_X(r.geom) AS x, ST_Y(r.geom) AS y, coalesce(r.community_code, '') AS grp,
  left(r.reported_at, 7) AS month FROM {rows} r WHERE r.geom IS NOT NULL) p GROUP BY 1, 2, 3, 4"""
_LEVEL = """SELECT {level}, gx >> {shift}, gy >> {shift}, grp, {month}, {sign}sum(n), {sign}sum(sx), {sign}sum(sy)
FROM f GROUP BY 2, 3, 4, 5"""
_UPSERT = """WITH f AS ({fine}) INSERT INTO {summary} AS c (level, gx, gy, grp, month, n, sx, sy)
SELECT * FROM ({levels}) u ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (level, gx, gy, grp, month) DO UPDATE
SET n = c.n + excluded.n, sx = c.sx + excluded.sx, sy = c.sy + excluded.sy"""
_MOVED = """(SELECT {side}.* FROM old_rows o JOIN new_rows n ON n.fid = o.fid
 WHERE (o.geom, o.community_code, o.reported_at) IS DISTINCT FROM (n.geom, n.community_code, n.reported_at))"""


def _upsert(rows: str, sign: str) -> str:
    """One statement adding (sign '') or taking away (sign '-') ``rows`` on every level: grouped
    once on the finest grid, then rolled up (floor(x / 2^k·s) = floor(x / s) >> k)."""
    finest = max(LEVELS)
    levels = " UNION ALL ".join(
        _LEVEL.format(level=lv, shift=finest - lv, month="month" if by_month else "''", sign=sign)
        for lv, by_month in LEVELS.items())
    fine = _FINE.format(size=360.0 / 2 ** finest, rows=rows)
    return _UPSERT.format(fine=fine, summary=SUMMARY, levels=levels)


def setup(conn) -> bool:
    """Create the summary, its trigger function and triggers (idempotent); (re)build it when it is
    missing or of another VERSION. True when it was (re)built."""
    stored = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (SUMMARY,)).fetchone()[0]
    rebuild = stored != f"gisapp cell summary {VERSION}"  # also when the table is missing (NULL)
    if rebuild:
        conn.execute(f"DROP TABLE IF EXISTS {SUMMARY}")
        # the sums ride in the key's index, so a view's cells are read from the index alone
        conn.execute(f"""CREATE TABLE {SUMMARY} (level smallint NOT NULL, gx integer NOT NULL,
            gy integer NOT NULL, grp text COLLATE "C" NOT NULL, month text COLLATE "C" NOT NULL,
            n bigint NOT NULL, sx double precision NOT NULL, sy double precision NOT NULL,
            PRIMARY KEY (level, gx, gy, grp, month) INCLUDE (n, sx, sy))""")
    if rebuild or conn.execute("SELECT to_regproc('gisapp_report_cells') IS NULL").fetchone()[0]:
        _create_function(conn)
    for op, refs in (("INSERT", "NEW TABLE AS new_rows"), ("DELETE", "OLD TABLE AS old_rows"),
                     ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows")):
        name = f"gisapp_report_cells_{op.lower()}"
        if conn.execute("SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = %s::regclass",
                        (name, TABLE)).fetchone():
            continue
        conn.execute(f"CREATE TRIGGER {name} AFTER {op} ON {TABLE} REFERENCING {refs} "
                     "FOR EACH STATEMENT EXECUTE FUNCTION gisapp_report_cells()")
    if rebuild:
        conn.execute(_upsert(TABLE, ""))
        conn.execute(f"ANALYZE {SUMMARY}")
        conn.execute(f"COMMENT ON TABLE {SUMMARY} IS 'gisapp cell summary {VERSION}'")
    return rebuild


def _create_function(conn) -> None:
    """The trigger function (part of the summary's VERSION: a change to it bumps VERSION)."""
    conn.execute(f"""CREATE OR REPLACE FUNCTION gisapp_report_cells() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN {_upsert('new_rows', '')};
  ELSIF TG_OP = 'DELETE' THEN {_upsert('old_rows', '-')};
  ELSE {_upsert(_MOVED.format(side='o'), '-')}; {_upsert(_MOVED.format(side='n'), '')};
  END IF;
  RETURN NULL;
END $$ SET work_mem = '128MB'""")


# --- bulk inserts: the summary computed in the app instead of by the trigger ---------------------

COLUMNS = ("level", "gx", "gy", "grp", "month", "n", "sx", "sy")
_COPY_TYPES = ("int2", "int4", "int4", "text", "text", "int8", "float8", "float8")


def aggregate(x: np.ndarray, y: np.ndarray, grp: list, stamps: list) -> pd.DataFrame:
    """The summary rows of points, as the trigger computes them: per level of :data:`LEVELS`,
    cell, ``grp`` ('' for None) and month (the first 7 characters of ``stamps``, '' on the
    levels without months): the count and the sums of x and y. Grouped on integer codes, several
    times faster than the trigger's SQL for a million points."""
    finest = max(LEVELS)
    size = 360.0 / 2 ** finest
    gx, gy = np.floor(x / size).astype(np.int64), np.floor(y / size).astype(np.int64)
    g_codes, g_names = pd.factorize(pd.Series(grp, dtype=object).fillna(""))
    m_codes, m_names = pd.factorize(pd.Series(stamps, dtype=object).str[:7])
    parts = []
    for level, monthly in LEVELS.items():
        keys = pd.DataFrame({"gx": gx >> (finest - level), "gy": gy >> (finest - level), "g": g_codes,
                             "m": m_codes if monthly else -1})
        sums = keys.assign(x=x, y=y).groupby(["gx", "gy", "g", "m"], sort=False)
        part = sums.agg(n=("x", "size"), sx=("x", "sum"), sy=("y", "sum")).reset_index()
        part["grp"] = np.asarray(g_names, dtype=object)[part["g"]]
        part["month"] = np.append(np.asarray(m_names, dtype=object), "")[part["m"]]
        parts.append(part.assign(level=level))
    return pd.concat(parts, ignore_index=True)[list(COLUMNS)]


def bulk_points(columns: dict[str, list], geoms) -> tuple | None:
    """(x, y, grp, stamps) of reports about to be copied in, when the app can compute their
    summary (every point has coordinates; text values as stored), else None: the trigger does."""
    x, y = shapely.get_coordinates(geoms).T if len(geoms) else (np.empty(0), np.empty(0))
    if len(x) != len(geoms) or not (np.isfinite(x).all() and np.isfinite(y).all()) or DATE not in columns:
        return None
    return x, y, columns.get(GROUP, [None] * len(x)), columns[DATE]


def pause(conn) -> None:
    """Stop the insert trigger until :func:`add` (inside the caller's transaction)."""
    conn.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER gisapp_report_cells_insert")


def add(conn, points: tuple) -> None:
    """Add the summary of ``points`` (from :func:`bulk_points`) and restart the insert trigger.
    When the summary holds fewer rows than come, it is rewritten whole (merged here, copied in,
    its key rebuilt after); otherwise the rows are copied into a temporary table and merged in
    one upsert."""
    from .pg_copy import copy_rows, drop_for_bulk
    cells = aggregate(*points)
    rebuild = drop_for_bulk(conn, SUMMARY, len(cells))
    target = SUMMARY if rebuild else "gisapp_cells_new"
    if rebuild:
        old = pd.DataFrame(conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {SUMMARY}").fetchall(), columns=list(COLUMNS))
        if len(old):
            cells = pd.concat([old, cells]).groupby(list(COLUMNS[:5]), sort=False).sum().reset_index()
        conn.execute(f"TRUNCATE {SUMMARY}")
    else:
        conn.execute(f"CREATE TEMP TABLE gisapp_cells_new (LIKE {SUMMARY}) ON COMMIT DROP")
    copy_rows(conn, target, list(COLUMNS), list(_COPY_TYPES), zip(*(cells[c].tolist() for c in COLUMNS)), binary=True)
    if rebuild:
        for sql in rebuild:
            conn.execute(sql)
        conn.execute(f"ANALYZE {SUMMARY}")
    else:
        conn.execute(f"""INSERT INTO {SUMMARY} AS c SELECT * FROM gisapp_cells_new ORDER BY 1, 2, 3, 4, 5
            ON CONFLICT (level, gx, gy, grp, month) DO UPDATE
            SET n = c.n + excluded.n, sx = c.sx + excluded.sx, sy = c.sy + excluded.sy""")
        conn.execute("DROP TABLE gisapp_cells_new")
    conn.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER gisapp_report_cells_insert")


def _month_after(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def _month_before(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year - (mon == 1):04d}-{(mon - 2) % 12 + 1:02d}"


def _full_months(lo: str | None, hi: str | None) -> tuple[str | None, str | None]:
    """The first and last month that every ``reported_at`` text in [lo, hi] covers whole
    (None: unbounded). Months are the first 7 characters of the ISO text."""
    first = None if lo is None else (lo[:7] if lo <= lo[:7] + "-01" else _month_after(lo[:7]))
    last = None if hi is None else _month_before(hi[:7])
    return first, last


def _plan(where: Where | None):
    """(community, lo, hi) when the summary can answer ``where``, else None."""
    where = dict(where or {})
    group = where.pop(GROUP, None)
    span = where.pop(DATE, None) or {}
    if where or not (group is None or isinstance(group, str)) or not isinstance(span, dict) \
            or set(span) - {">=", "<="} or not all(isinstance(v, str) and len(v) >= 7 for v in span.values()):
        return None
    for value in span.values():
        try:
            dt.date(int(value[:4]), int(value[5:7]), 1)
        except ValueError:
            return None
    return group, span.get(">="), span.get("<=")


def cluster_sql(bbox, cell: float, where: Where | None) -> tuple[str, list] | None:
    """SQL giving (gx, gy, x, y, n) per cell of the grid for ``cell``, or None (cluster the points)."""
    level, size = grid(cell)
    plan = _plan(where)
    if plan is None:
        return None
    group, lo, hi = plan
    dated = lo is not None or hi is not None
    source = min((lv for lv, monthly in LEVELS.items() if lv >= level and (monthly or not dated)), default=None)
    if source is None:
        return None
    shift, src_size = source - level, 360.0 / 2 ** source
    first, last = _full_months(lo, hi)
    parts, params = [], []
    if first is None or last is None or first <= last:
        sql = (f"SELECT gx >> {shift} AS cx, gy >> {shift} AS cy, n, sx, sy FROM {SUMMARY} "
               "WHERE level = %s AND gx BETWEEN %s AND %s AND gy BETWEEN %s AND %s")
        params += [source] + [int(v // src_size) for v in (bbox[0], bbox[2], bbox[1], bbox[3])]
        for cond, value in (("grp = %s", group), ("month >= %s", first), ("month <= %s", last)):
            if value is not None:
                sql, params = sql + " AND " + cond, params + [value]
        parts.append(sql)
    raw, raw_params = _partial_months(lo, hi, first, last)
    if raw is not None:
        sql = (f"SELECT floor(ST_X(geom) / {size!r})::int AS cx, floor(ST_Y(geom) / {size!r})::int AS cy, "
               f"1 AS n, ST_X(geom) AS sx, ST_Y(geom) AS sy FROM {TABLE} WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) AND ({raw})")
        params += [float(v) for v in bbox] + raw_params
        if group is not None:
            sql, params = sql + f" AND {GROUP} = %s", params + [group]
        parts.append(sql)
    union = " UNION ALL ".join(parts)
    return (f"SELECT cx, cy, sum(sx) / sum(n), sum(sy) / sum(n), sum(n) FROM ({union}) u "
            "GROUP BY cx, cy HAVING sum(n) > 0", params)


def _partial_months(lo, hi, first, last) -> tuple[str | None, list]:
    """The reports in [lo, hi] outside the whole months [first, last], as a condition."""
    bounds, params = [], []
    for op, value in ((">=", lo), ("<=", hi)):
        if value is not None:
            bounds.append(f"{DATE} {op} %s")
            params.append(value)
    if lo is None and hi is None:
        return None, []
    if first is not None and last is not None and first > last:  # no whole month: all from the points
        return " AND ".join(bounds), params
    outside, extra = [], []
    if first is not None:
        outside.append(f"{DATE} < %s")
        extra.append(first)
    if last is not None:
        outside.append(f"{DATE} >= %s")
        extra.append(_month_after(last))
    return " AND ".join(bounds + [f"({' OR '.join(outside)})"]), params + extra
