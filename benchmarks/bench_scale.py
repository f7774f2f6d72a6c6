"""County scale: 10,000 / 100,000 / 1,000,000 field reports on the GeoPackage and the PostGIS store.

For each backend and size, on a copy of the demo store (富世街道) with N generated reports
(30 % in the subdistrict, the county seat; 70 % across the county outline), it prints:
- bulk import: one ``Writer.insert`` of N points (validation, audit row, commit), points per
  second of wall time and, in brackets, per CPU second (this process + the PostgreSQL backend,
  whose index builds are kept in the backend): the rate on an otherwise idle machine;
- assignment of every report to its community, grid cell and back lane (the app's vectorised
  ``gisapp.reports.assign``, the store read included) and, on PostGIS, the same point-in-polygon
  join for communities done in the database (``UPDATE … FROM communities WHERE ST_Intersects``,
  rolled back);
- in a fresh worker process (the Flask test client, logged in): the map's data for a view,
  ``/api/map/reports.geojson?bbox=`` at street zoom (~600 m), district zoom (the subdistrict,
  ~5 km) and county zoom (~50 km): the whole request, the store's part alone (the count and the
  read or cluster the view needs) and the worker's CPU; whether points or clusters were sent;
  one cluster query; the dashboard (``/api/dashboard``, its per-version cache cleared); the
  handlers' report list (one page of ``/api/reports``), the counts by community
  (``/api/reports/communities``) and the next report code of an upload; the OGC API's
  reports collection (its extent recomputed, as after any write) and one page of its items in
  the street view; the worker's resident memory after start-up and at its peak (VmHWM), and its Python heap peak;
- one community's snapshot PDF (``/snapshot/community/<code>.pdf``), and the worker's memory after;
- every report as a GeoPackage download (``/api/export/reports.gpkg``): time, file size and the
  worker's peak memory after it.
Times are medians of --repeat runs after one warm-up; nothing here is a test.

Run: .venv/bin/python benchmarks/bench_scale.py [--sizes 10000,100000,1000000] [--backends gpkg,postgis]
     [--postgres URL] [--repeat 5] [--no-snapshot]
--postgres names a role that may create databases on a server with the ``gisapp_template``
database (``bash scripts/postgres.sh`` as root makes both); the benchmark's databases are dropped.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gisapp.vocab import CATEGORIES, REPORT_SOURCES, REPORT_STATES  # noqa: E402

PG_URL = os.environ.get("GISAPP_BENCH_POSTGRES", "postgresql://gisapp:gisapp@127.0.0.1:5432/gisapp")
TEMPLATE = "gisapp_template"
SUBDISTRICT = (104.960, 29.160, 105.010, 29.200)
VIEWS = {"street": (104.982, 29.178, 104.988, 29.183), "district": SUBDISTRICT}  # county: the outline's bounds


def timed(fn, repeat: int, cpu: dict | None = None):
    """Median wall seconds of ``repeat`` runs after a warm-up (and, into ``cpu``, the median
    CPU seconds this process spent: the app's share, the rest is waiting for the database)."""
    fn()  # warm-up
    times, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    if cpu is not None:
        cpu["cpu_ms"] = statistics.median(cpus) * 1000
    return statistics.median(times), out


# --- the worker: one process serving requests on a prepared store ---------------------------

def worker(url: str, repeat: int, snapshot: bool) -> dict:
    import tracemalloc

    from gisapp import create_app
    from gisapp import dashboard as dash
    app = create_app({"DATABASE": url, "LOAD_DEMO": False, "TESTING": True})
    store = app.extensions["gisapp"]["store"]
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["user"] = "admin"
    views = dict(VIEWS, county=tuple(store.read("county_outline").total_bounds))
    out: dict = {"rss_start_mb": rss_mb()}
    for name, box in views.items():
        path = "/api/map/reports.geojson?bbox=" + ",".join(f"{v:.6f}" for v in box)

        def get(path=path):
            resp = client.get(path)
            assert resp.status_code == 200, resp.status_code
            return resp
        cpu: dict = {}
        seconds, resp = timed(get, repeat, cpu)
        body = resp.get_json()
        out[name] = {"ms": seconds * 1000, "kb": len(resp.data) / 1024, "clustered": body.get("clustered"),
                     "features": len(body["features"]), **cpu,
                     "store_ms": timed(lambda box=box: store_calls(store, box), repeat)[0] * 1000}
    seconds, cells = timed(lambda: store.cluster("reports", views["district"], 0.05 / 28), repeat)
    out["cluster"] = {"ms": seconds * 1000, "cells": len(cells)}

    def dashboard():
        dash._cache.clear()
        resp = client.get("/api/dashboard")
        assert resp.status_code == 200, resp.status_code
    out["dashboard"] = {"ms": timed(dashboard, repeat)[0] * 1000}
    for name, path in (("list", "/api/reports?view=all&limit=50&offset=500"), ("communities", "/api/reports/communities")):
        out[name] = {"ms": timed(lambda path=path: client.get(path).status_code, repeat)[0] * 1000}
    from gisapp import catalog

    def collection():
        catalog._extents.clear()  # its extent as after any write: bounds and time span from the indexes
        resp = client.get("/ogcapi/collections/reports?f=json")
        assert resp.status_code == 200 and resp.get_json()["extent"]["spatial"], resp.status_code
    out["ogc_collection"] = {"ms": timed(collection, repeat)[0] * 1000}
    items = "/ogcapi/collections/reports/items?f=json&limit=100&bbox=" + ",".join(f"{v:.6f}" for v in views["street"])
    out["ogc_items"] = {"ms": timed(lambda: client.get(items).status_code, repeat)[0] * 1000}
    from gisapp.reports.service import next_code
    out["next_code"] = {"ms": timed(lambda: next_code(store, dt.datetime.now(dt.timezone.utc)), repeat)[0] * 1000}
    tracemalloc.start()  # the Python heap's peak over one more round (tracing slows every allocation: not timed)
    for box in views.values():
        client.get("/api/map/reports.geojson?bbox=" + ",".join(f"{v:.6f}" for v in box))
    dashboard()
    out["heap_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    out["rss_peak_mb"] = rss_mb()
    if snapshot:
        code = store.read("communities", columns=["code"], geometry=False)["code"].iloc[0]
        t0 = time.perf_counter()
        resp = client.get(f"/snapshot/community/{code}.pdf")
        out["snapshot"] = {"ms": (time.perf_counter() - t0) * 1000, "status": resp.status_code,
                           "rss_after_mb": rss_mb()}
    t0 = time.perf_counter()  # every report as a GeoPackage download, read as a client would, in blocks
    resp, size = client.get("/api/export/reports.gpkg", buffered=False), 0
    assert resp.status_code == 200, resp.status_code
    for block in resp.response:
        size += len(block)
    resp.close()
    out["export"] = {"ms": (time.perf_counter() - t0) * 1000, "mb": size / 2**20, "rss_after_mb": rss_mb()}
    store.close()
    return out


def store_calls(store, box):
    """What /api/map/reports.geojson asks the store for a view (gisapp.mapdata.reports_geojson)."""
    from gisapp import mapdata
    if store.count("reports", bbox=box, limit=mapdata.MAX_POINTS + 1) > mapdata.MAX_POINTS:
        return store.cluster("reports", box, max(box[2] - box[0], box[3] - box[1]) / mapdata.CLUSTER_GRID)
    return store.read("reports", bbox=box, columns=mapdata.REPORT_FIELDS)


def rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def backend_cpu(pid: int) -> float:
    """CPU seconds a local PostgreSQL backend has used (0 when /proc cannot tell)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


# --- preparing stores ------------------------------------------------------------------------

def reports(n: int, county, seed: int = 8) -> gpd.GeoDataFrame:
    """N report points: 30 % in the subdistrict, the rest across the county outline."""
    rng = np.random.default_rng(seed)
    local = int(n * 0.3)
    xs = list(rng.uniform(SUBDISTRICT[0], SUBDISTRICT[2], local))
    ys = list(rng.uniform(SUBDISTRICT[1], SUBDISTRICT[3], local))
    minx, miny, maxx, maxy = county.bounds
    shapely.prepare(county)
    while len(xs) < n:
        x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
        keep = shapely.contains_xy(county, x, y)
        xs += list(x[keep][: n - len(xs)])
        ys += list(y[keep][: n - len(ys)])
    stamps = np.datetime64("2021-01-01T00:00:00") + rng.integers(0, 4 * 365 * 86400, n).astype("timedelta64[s]")
    cats, states, sources = list(CATEGORIES), list(REPORT_STATES), list(REPORT_SOURCES)
    return gpd.GeoDataFrame({
        "code": [f"B{i:07d}" for i in range(n)],
        "category": np.array(cats, dtype=object)[rng.integers(0, len(cats), n)],
        "description": "巷口堆放杂物",
        "status": np.array(states, dtype=object)[rng.integers(0, len(states), n)],
        "source": np.array(sources, dtype=object)[rng.integers(0, len(sources), n)],
        "reported_at": np.char.add(np.datetime_as_string(stamps, unit="s").astype(str), "Z").astype(object),
        "reporter": "bench",
    }, geometry=shapely.points(np.array(xs), np.array(ys)), crs=4326)


class Backend:
    def __init__(self, name: str, folder: Path, pg_url: str):
        self.name, self.folder, self.pg_url, self.dbs = name, folder, pg_url, []
        self.admin = None
        if name == "postgis":
            import psycopg
            self.admin = psycopg.connect(pg_url, autocommit=True)

    def url(self, db: str) -> str:
        if self.name == "gpkg":
            return str(self.folder / f"{db}.gpkg")
        return urlunsplit(urlsplit(self.pg_url)._replace(path="/" + db))

    def create(self, db: str, template: str | None) -> str:
        if self.name == "gpkg":
            if template:
                shutil.copy(self.url(template), self.url(db))
            return self.url(db)
        db = f"bench_{os.getpid()}_{db}"
        self.admin.execute(f'CREATE DATABASE "{db}" TEMPLATE "{template or TEMPLATE}"')
        # index builds in the backend itself, so that its CPU time counts all of an import's work
        self.admin.execute(f'ALTER DATABASE "{db}" SET max_parallel_maintenance_workers = 0')
        self.dbs.append(db)
        return self.url(db)

    def sql(self, url: str, query: str):
        import psycopg
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(query)

    def close(self):
        for db in self.dbs:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        if self.admin is not None:
            self.admin.close()


def settings(backend: Backend) -> str:
    if backend.name != "postgis":
        return ""
    names = ("server_version", "shared_buffers", "work_mem", "fsync", "synchronous_commit",
             "max_parallel_workers_per_gather")
    return ", ".join(f"{n}={backend.admin.execute('SELECT current_setting(%s)', (n,)).fetchone()[0]}"
                     for n in names)


def run_backend(backend: Backend, sizes, data, repeat: int, snapshot: bool) -> list[dict]:
    from gisapp import create_app
    from gisapp.registry import load_registry
    from gisapp.reports.assign import assign, load_areas
    from gisapp.storage import open_store

    registry = load_registry(ROOT / "layers")
    demo = backend.create("demo", None)
    create_app({"DATABASE": demo, "TESTING": True}).extensions["gisapp"]["store"].close()
    if backend.name == "gpkg":
        open_store(demo, registry).checkpoint()
    template = "demo" if backend.name == "gpkg" else urlsplit(demo).path.lstrip("/")
    results = []
    for n in sizes:
        url = backend.create(f"n{n}", template)
        store = open_store(url, registry)
        row = {"backend": backend.name, "n": n}
        pid = store._query("SELECT pg_backend_pid()")[0][0] if backend.name == "postgis" else None
        server0, t0, cpu0 = backend_cpu(pid) if pid else 0.0, time.perf_counter(), time.process_time()
        with store.writer("bench") as w:  # the same pooled connection: one thread
            w.insert("reports", data[n], summary="benchmark reports")
        row["import_s"] = time.perf_counter() - t0
        row["import_cpu_s"] = time.process_time() - cpu0 + ((backend_cpu(pid) - server0) if pid else 0.0)
        if backend.name == "postgis":
            t0 = time.perf_counter()
            backend.sql(url, "VACUUM ANALYZE reports")
            row["analyze_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        pts = store.read("reports", columns=["code"])
        row["read_all_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        assigned = assign(load_areas(store), pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy())
        row["assign_s"] = time.perf_counter() - t0
        row["assigned"] = int(assigned["community_code"].notna().sum())
        del pts, assigned
        if backend.name == "postgis":
            import psycopg
            with psycopg.connect(url) as conn:  # one transaction, rolled back: the data stays as generated
                t0 = time.perf_counter()
                cur = conn.execute("UPDATE reports r SET community_code = c.code FROM communities c "
                                   "WHERE ST_Intersects(c.geom, r.geom)")
                row["assign_db_s"], row["assigned_db"] = time.perf_counter() - t0, cur.rowcount
                conn.rollback()
        store.close()
        proc = subprocess.run([sys.executable, __file__, "--worker", url, "--repeat", str(repeat)]
                              + ([] if snapshot else ["--no-snapshot"]), capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"worker failed on {backend.name} {n}:\n{proc.stderr[-3000:]}")
        row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        results.append(row)
        print(f"  {backend.name} {n:>9,}: done", file=sys.stderr, flush=True)
    return results


def table(rows: list[dict]) -> str:
    def view(r, k):
        v = r[k]
        return f"{v['ms']:.0f} ({v['store_ms']:.0f}, {v['cpu_ms']:.0f}) {'C' if v['clustered'] else 'P'}{v['features']}"
    head = ["backend", "reports", "import pts/s (CPU)", "assign app s", "assign in db s", "street view ms",
            "district view ms", "county view ms", "cluster ms", "dashboard ms", "report list ms (page/comm./code)", "OGC API ms (coll./items)",
            "worker MB start/peak",
            "heap peak MB", "snapshot s (MB after)", "export s, file MB (MB after)"]
    lines = [head]
    for r in rows:
        snap = r.get("snapshot")
        lines.append([
            r["backend"], f"{r['n']:,}", f"{r['n'] / r['import_s']:,.0f} ({r['n'] / r['import_cpu_s']:,.0f})",
            f"{r['read_all_s'] + r['assign_s']:.1f} ({r['read_all_s']:.1f} read)",
            f"{r['assign_db_s']:.1f}" if "assign_db_s" in r else "—",
            view(r, "street"), view(r, "district"), view(r, "county"),
            f"{r['cluster']['ms']:.0f}", f"{r['dashboard']['ms']:.0f}",
            f"{r['list']['ms']:.0f}/{r['communities']['ms']:.0f}/{r['next_code']['ms']:.0f}",
            f"{r['ogc_collection']['ms']:.0f}/{r['ogc_items']['ms']:.0f}",
            f"{r['rss_start_mb']:.0f}/{r['rss_peak_mb']:.0f}",
            f"{r['heap_peak_mb']:.0f}",
            f"{snap['ms'] / 1000:.1f} ({snap['rss_after_mb']:.0f})" if snap else "—",
            f"{r['export']['ms'] / 1000:.1f}, {r['export']['mb']:.0f} ({r['export']['rss_after_mb']:.0f})",
        ])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--backends", default="gpkg,postgis")
    ap.add_argument("--postgres", default=PG_URL)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-snapshot", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat, not args.no_snapshot)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    rows = []
    try:
        backends = [Backend(name, folder / name, args.postgres) for name in args.backends.split(",")]
        for b in backends:
            (folder / b.name).mkdir()
        from gisapp.registry import load_registry
        from gisapp.storage import open_store
        first = backends[0]
        demo = first.create("county_probe", None)
        from gisapp import create_app
        app = create_app({"DATABASE": demo, "LOAD_DEMO": True, "TESTING": True})
        county = app.extensions["gisapp"]["store"].read("county_outline").geometry.iloc[0]
        app.extensions["gisapp"]["store"].close()
        del open_store, load_registry
        data = {n: reports(n, county) for n in sizes}
        for b in backends:
            print(f"{b.name}: {settings(b)}", file=sys.stderr, flush=True)
            rows += run_backend(b, sizes, data, args.repeat, not args.no_snapshot)
        for b in backends:
            b.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; views: median of "
          f"{args.repeat}, whole request (the store's count + read or cluster alone, the worker's CPU); "
          "P = points sent, C = clusters sent (cells); "
          "import CPU = client + PostgreSQL backend CPU seconds; assignment = read every report, then communities, "
          "grid cells, lanes")
    print(table(rows))


if __name__ == "__main__":
    main()
