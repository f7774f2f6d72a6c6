"""OGC API items for a bbox: gisapp beside pygeoapi and beside a fixed response (the ceiling).

A fresh GeoPackage is filled through the Store with N points (default 100,000) in the
parking_spaces layer, each with a progress record. Every server runs under gunicorn with
the same number of sync workers (default 2) and gets the same requests: items for a bbox
(a different, seeded bbox each time, each holding thousands of points) with limit=100 and
limit=1000, from 4 concurrent clients (processes with keep-alive connections), a fixed
number of requests per run. Printed: requests per second.

- gisapp: /ogcapi/collections/parking_spaces/items (features with their latest progress),
  signed in with an API token; also with FEATURE_INDEX_MAX=0, i.e. every page read through
  Store.read (the store path), and without the per-request access check (to show its cost);
- pygeoapi (PyPI) with its GeoPackage provider (SQLiteGPKG) on the same file, set up by
  benchmarks/setup_pygeoapi.sh (needs Debian's libsqlite3-mod-spatialite and /usr/bin/python3);
- ceiling: a Flask route returning a fixed body of the size of gisapp's page.

Run: .venv/bin/python benchmarks/bench_ogcapi.py [--features 100000] [--requests 400] [--no-pygeoapi]
(gunicorn comes with the "bench" extra: pip install -e ".[bench]").
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gisapp.registry import load_registry  # noqa: E402
from gisapp.storage import open_store  # noqa: E402

BOX = (104.960, 29.160, 105.010, 29.200)  # the subdistrict, roughly
LAYER = "parking_spaces"
STATUSES = np.array(["planned", "in_progress", "done", "accepted"])


# --- data ------------------------------------------------------------------------------------
def make_store(path: Path, n: int) -> None:
    """N points with one progress record each, written through the Store (audit and R-tree included)."""
    store = open_store(str(path), load_registry(ROOT / "layers"))
    store.initialize()
    rng = np.random.default_rng(2023)
    codes = [f"P{i:07d}" for i in range(n)]
    points = gpd.GeoDataFrame(
        {"code": codes, "name": [f"{i}号车位" for i in range(n)], "lane_code": "BJ01",
         "community_code": rng.choice(["510322100026", "510322100031", "510322100039"], n)},
        geometry=shapely.points(rng.uniform(BOX[0], BOX[2], n), rng.uniform(BOX[1], BOX[3], n)), crs=4326)
    days = pd.Timestamp("2023-03-01") + pd.to_timedelta(rng.integers(0, 270, n), unit="D")
    records = pd.DataFrame({"layer": LAYER, "feature_code": codes, "record_date": days.strftime("%Y-%m-%d"),
                            "status": rng.choice(STATUSES, n), "percent": rng.uniform(0, 100, n).round(1),
                            "spaces": 1.0, "author": "bench", "created_at": "2023-12-31T00:00:00Z"})
    with store.writer("bench") as w:
        w.insert(LAYER, points)
        w.insert("progress", records)
    _add_bench_user(store)
    store.close()


def _add_bench_user(store) -> None:
    """An admin with an API token (written to <db>.token)."""
    from gisapp.auth import create_token, create_user
    create_user(store, "bench", "bench-password", "admin", "bench")
    Path(str(store.path) + ".token").write_text(create_token(store, "bench", "bench", "bench"))


def bboxes(count: int, seed: int = 7) -> list[str]:
    """Seeded bboxes a quarter of the area's width and height (about 6 % of the points each)."""
    rng = np.random.default_rng(seed)
    w, h = (BOX[2] - BOX[0]) / 4, (BOX[3] - BOX[1]) / 4
    x, y = rng.uniform(BOX[0], BOX[2] - w, count), rng.uniform(BOX[1], BOX[3] - h, count)
    return [f"{a:.6f},{b:.6f},{a + w:.6f},{b + h:.6f}" for a, b in zip(x, y)]


# --- servers --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, headers: dict, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.args}")
        try:
            status, _ = fetch(url, headers)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server did not answer: {url}")


def gunicorn(python: str, app: str, port: int, workers: int, env: dict, cwd: Path) -> subprocess.Popen:
    cmd = [python, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning", app]
    return subprocess.Popen(cmd, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


PYGEOAPI_CONFIG = """\
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  language: en-US
  limits: {{default_items: 10, max_items: 10000}}
  map: {{url: "https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png", attribution: OpenStreetMap}}
logging: {{level: ERROR}}
metadata:
  identification: {{title: bench, description: bench, keywords: [bench], url: "http://example.org",
                   terms_of_service: "http://example.org"}}
  license: {{name: CC-BY 4.0, url: "https://creativecommons.org/licenses/by/4.0/"}}
  provider: {{name: bench, url: "http://example.org"}}
  contact: {{name: bench, position: bench, address: bench, city: bench, stateorprovince: bench, postalcode: "0",
            country: CN, phone: "0", fax: "0", email: "bench@example.org", url: "http://example.org",
            hours: "0-24", instructions: bench, role: pointOfContact}}
resources:
  {layer}:
    type: collection
    title: Parking spaces
    description: benchmark points
    keywords: [bench]
    extents:
      spatial: {{bbox: [{box}], crs: "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    providers:
      - type: feature
        name: SQLiteGPKG
        data: {data}
        id_field: fid
        table: {layer}
"""


def setup_pygeoapi() -> tuple[str | None, str]:
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "setup_pygeoapi.sh")], capture_output=True, text=True)
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or ["setup failed"])[-1]
    return proc.stdout.strip().splitlines()[-1], ""


def start_pygeoapi(python: str, db: Path, folder: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config, api = folder / "pygeoapi.yml", folder / "pygeoapi-openapi.yml"
    config.write_text(PYGEOAPI_CONFIG.format(port=port, layer=LAYER, data=db, box=", ".join(map(str, BOX))))
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(api)}
    pygeoapi = str(Path(python).parent / "pygeoapi")
    subprocess.run([pygeoapi, "openapi", "generate", str(config), "--output-file", str(api)],
                   env={**os.environ, **env}, check=True, capture_output=True)
    proc = gunicorn(python, "pygeoapi.flask_app:APP", port, workers, env, folder)
    return proc, f"http://127.0.0.1:{port}"


CEILING_APP = '''\
import os
import shutil
from pathlib import Path
from flask import Flask, Response
app = Flask(__name__)
BODIES = {p.stem: p.read_bytes() for p in Path(os.environ["BENCH_BODIES"]).glob("*.json")}

@app.get("/fixed/<name>")
def fixed(name):
    return Response(BODIES[name], mimetype="application/geo+json")
'''


# --- load ---------------------------------------------------------------------------------------
def fetch(url: str, headers: dict, conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    parts = urlsplit(url)
    own = conn is None
    conn = conn or http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""), headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    if own:
        conn.close()
    return resp.status, body


def _client(args) -> tuple[int, int, int]:
    urls, headers = args
    parts = urlsplit(urls[0])
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    ok = size = 0
    for url in urls:
        try:
            status, body = fetch(url, headers, conn)
        except (OSError, http.client.HTTPException):
            conn.close()
            status, body = 0, b""
        ok += status == 200
        size += len(body)
    conn.close()
    return ok, size, len(urls)


def load(urls: list[str], headers: dict, clients: int, repeat: int = 3) -> tuple[float, int]:
    """Requests per second with `clients` concurrent clients (the median of `repeat` runs of
    all the URLs), and the number of failed requests."""
    chunks = [(urls[i::clients], headers) for i in range(clients)]
    rates, failed = [], 0
    with mp.get_context("fork").Pool(clients) as pool:
        pool.map(_client, [(c[0][:2], headers) for c in chunks])  # connect and warm up
        for _ in range(repeat):
            t0 = time.perf_counter()
            results = pool.map(_client, chunks)
            rates.append(len(urls) / (time.perf_counter() - t0))
            failed += len(urls) - sum(r[0] for r in results)
    return sorted(rates)[len(rates) // 2], failed


# --- main ---------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="requests per run, server and limit")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (the median is printed)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limits", default="100,1000")
    parser.add_argument("--no-pygeoapi", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (store, configs)")
    opts = parser.parse_args()
    limits = [int(v) for v in opts.limits.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="gisapp-bench-"))
    db = folder / "bench.gpkg"
    t0 = time.perf_counter()
    make_store(db, opts.features)
    print(f"store: {opts.features:,} points with progress records in {time.perf_counter() - t0:.1f} s")
    auth = {"Authorization": "Bearer " + Path(str(db) + ".token").read_text()}
    boxes = bboxes(opts.requests)
    results: dict[str, dict[int, tuple[float, int]]] = {}
    procs = []
    try:
        servers = start_servers(opts, db, folder, auth, limits, procs)
        for name, (base, path, headers) in servers.items():
            results[name] = {}
            for limit in limits:
                urls = [f"{base}{path}".format(limit=limit, bbox=b) for b in boxes]
                for url in urls[:2 * opts.workers]:  # build per-worker caches before timing
                    fetch(url, headers)
                results[name][limit] = load(urls, headers, opts.clients, opts.repeat)
    finally:
        for proc in procs:
            stop(proc)
        if not opts.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print_table(results, limits, opts)


GISAPP_VARIANTS = (  # (row name, WSGI app, FEATURE_INDEX_MAX)
    ("gisapp", "wsgi:app", 200_000),
    ("gisapp, store path", "wsgi:app", 0),
    ("gisapp, no access check", "wsgi_noauth:app", 200_000),
)


def start_servers(opts, db: Path, folder: Path, auth: dict, limits: list[int], procs: list) -> dict:
    items = "/ogcapi/collections/" + LAYER + "/items?bbox={bbox}&limit={limit}"
    servers = {}
    for name, app, index_max in GISAPP_VARIANTS:
        port = free_port()
        env = {"GISAPP_DATABASE": str(db), "GISAPP_LOAD_DEMO": "false", "GISAPP_FEATURE_INDEX_MAX": str(index_max),
               "PYTHONPATH": str(ROOT / "benchmarks")}
        procs.append(gunicorn(sys.executable, app, port, opts.workers, env, ROOT))
        wait_until_up(f"http://127.0.0.1:{port}/ogcapi/", auth, procs[-1])
        servers[name] = (f"http://127.0.0.1:{port}", items, auth)
    if not opts.no_pygeoapi:
        python, why = setup_pygeoapi()
        if python is None:
            print(f"pygeoapi: not run: {why}")
        else:
            proc, base = start_pygeoapi(python, db, folder, opts.workers)
            procs.append(proc)
            wait_until_up(base + "/collections?f=json", {}, proc)
            servers["pygeoapi 0.21 (SQLiteGPKG)"] = (base, "/collections/" + LAYER + "/items?f=json&bbox={bbox}&limit={limit}", {})
    bodies = folder / "bodies"
    bodies.mkdir()
    base, path, headers = servers["gisapp"]
    for limit in limits:  # the ceiling serves a gisapp page of each size
        status, body = fetch(base + path.format(limit=limit, bbox=bboxes(1, seed=1)[0]), headers)
        page = json.loads(body) if status == 200 else {}
        assert page.get("numberReturned") == min(limit, page.get("numberMatched", -1)), (status, body[:200])
        (bodies / f"{limit}.json").write_bytes(body)
    (folder / "ceiling_app.py").write_text(CEILING_APP)
    port = free_port()
    procs.append(gunicorn(sys.executable, "ceiling_app:app", port, opts.workers, {"BENCH_BODIES": str(bodies)}, folder))
    wait_until_up(f"http://127.0.0.1:{port}/fixed/{limits[0]}", {}, procs[-1])
    servers["Flask, fixed body (ceiling)"] = (f"http://127.0.0.1:{port}", "/fixed/{limit}?bbox={bbox}", {})
    return servers


def print_table(results: dict, limits: list[int], opts) -> None:
    ceiling = results["Flask, fixed body (ceiling)"]
    peer = next((v for k, v in results.items() if k.startswith("pygeoapi")), None)
    print(f"\n{opts.clients} clients, {opts.requests} requests per run (median of {opts.repeat}), "
          f"gunicorn {opts.workers} workers, "
          f"{os.cpu_count()} CPUs; items for a random bbox (~6 % of {opts.features:,} points)\n")
    head = f"| {'server':<30} |" + "".join(f" limit={n:<5} req/s | vs pygeoapi | vs ceiling |" for n in limits)
    print(head)
    print("|" + "-" * 32 + "|" + "---------------------|-------------|------------|" * len(limits))
    for name, row in results.items():
        cells = ""
        for n in limits:
            rps, failed = row[n]
            vs_peer = f"{rps / peer[n][0]:.1f}×" if peer else "—"
            cells += f" {rps:>13,.0f}{'!' if failed else ' '}      | {vs_peer:>11} | {rps / ceiling[n][0]:>9.0%} |"
        print(f"| {name:<30} |{cells}")
    for name, row in results.items():
        for n in limits:
            if row[n][1]:
                print(f"! {name}, limit={n}: {row[n][1]} of {opts.requests * opts.repeat} requests failed")


if __name__ == "__main__":
    main()
