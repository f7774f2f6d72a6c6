"""Load and faults: field-report uploads with photos under gunicorn, a worker SIGKILLed and a
backup taken while they run; then every upload is checked against the store and the photo folder.

On a fresh demo store (GeoPackage by default, or a new PostGIS database) the app runs under
gunicorn with --workers sync workers. --clients threads post --uploads multipart reports to
``POST /api/reports`` (API tokens, 1 to --max-photos real photos from ../shared/testdata/photos,
positions on the demo's back lanes); each description carries a unique marker. Mid-run
(after --kill-at of the uploads have started) one worker gets SIGKILL (--kills N: N workers, 5 %
of the uploads apart), and (after --backup-at) a backup is taken: ``gisapp backup`` on a
GeoPackage, ``pg_dump -Fc`` on PostGIS. gunicorn starts a new worker, whose start-up deals with
the staged files of the killed one (gisapp.reports.files.PhotoFiles.recover; printed).

Afterwards, with gunicorn stopped, the same check runs on the store and on the restored backup:
- acknowledged (201 and a code) → stored exactly once, under that code, with every photo row and
  the three files (original, display, thumbnail) of each, and its "report" event; else lost;
- duplicated: a marker stored more than once; partial: a stored report missing photo rows,
  files or its event; unacknowledged (connection reset, 5xx, timeout) → either not stored at all
  or stored complete ("unacknowledged but stored": the server finished after the client lost it);
- orphaned: a file under the upload folder that no photo row names (``.tmp/`` leftovers included).
For the backup the photo folder is the live one, newer than the backup: the check runs from the
records to the files (every file a record names exists), every upload acknowledged before the
backup began is in it, nothing in it is unknown to the live store; files of later uploads are
expected, not orphans.

Run: .venv/bin/python benchmarks/bench_faults.py [--backend gpkg|postgis] [--uploads 1000]
     [--clients 24] [--workers 4] [--kill-at 0.4] [--kills 1] [--backup-at 0.6] [--postgres URL] [--keep]
(gunicorn comes with the "bench" extra: pip install -e ".[bench]"; PostGIS needs pg_dump and
pg_restore and a role that may create databases, see benchmarks/bench_scale.py). Not a test.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gisapp.registry import load_registry  # noqa: E402
from gisapp.storage import open_store  # noqa: E402
from gisapp.vocab import CATEGORIES  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "testdata" / "photos"
PG_URL = os.environ.get("GISAPP_BENCH_POSTGRES", "postgresql://gisapp:gisapp@127.0.0.1:5432/gisapp")
TEMPLATE = "gisapp_template"
SECRET = "bench-faults-not-secret"
VARIANTS = ("original_path", "display_path", "thumb_path")


@dataclass
class Upload:
    n: int
    marker: str
    photos: int
    start: float = 0.0
    end: float = 0.0
    status: int | None = None  # HTTP status; None: no answer (connection reset, timeout)
    code: str | None = None
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status == 201 and self.code is not None


@dataclass
class Run:
    uploads: list[Upload]
    started: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    events: list[str] = field(default_factory=list)
    kills: list[dict] = field(default_factory=list)
    backup: dict = field(default_factory=dict)

    def next(self) -> Upload | None:
        with self.lock:
            if self.started >= len(self.uploads):
                return None
            self.started += 1
            return self.uploads[self.started - 1]

    def acked(self) -> int:
        return sum(u.acknowledged for u in self.uploads)


# --- the store and the server ------------------------------------------------------------------
class Backend:
    """A fresh demo store: a GeoPackage file in the run's folder or a new PostGIS database."""

    def __init__(self, name: str, folder: Path, pg_url: str):
        self.name, self.folder, self.pg_url, self.dbs = name, folder, pg_url, []
        self.admin = None
        if name == "postgis":
            import psycopg
            self.admin = psycopg.connect(pg_url, autocommit=True)

    def new(self, label: str) -> str:
        if self.name == "gpkg":
            return str(self.folder / f"{label}.gpkg")
        db = f"bench_faults_{os.getpid()}_{label}"
        self.admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self.admin.execute(f'CREATE DATABASE "{db}" TEMPLATE "{TEMPLATE}"')
        self.dbs.append(db)
        return urlunsplit(urlsplit(self.pg_url)._replace(path="/" + db))

    def close(self, keep: bool) -> None:
        if self.admin is None:
            return
        if not keep:
            for db in self.dbs:
                self.admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self.admin.close()


def make_demo(db: str, uploads: Path, clients: int) -> tuple[list[str], list]:
    """The demo store (the real start-up path), one API token per client for the field account,
    and the back lanes' geometries for the positions."""
    from gisapp import auth, create_app
    app = create_app({"DATABASE": db, "REPORT_UPLOADS": str(uploads), "SECRET_KEY": SECRET, "TESTING": True})
    store = app.extensions["gisapp"]["store"]
    tokens = [auth.create_token(store, "wangge", f"bench client {i}", "bench") for i in range(clients)]
    lanes = list(store.read("back_lanes").geometry)
    store.checkpoint()
    store.close()
    return tokens, lanes


def env_for(db: str, uploads: Path) -> dict:
    return {**os.environ, "GISAPP_DATABASE": db, "GISAPP_REPORT_UPLOADS": str(uploads), "GISAPP_LOAD_DEMO": "false",
            "GISAPP_SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (gunicorn's workers), from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return sorted(out)


def start_gunicorn(env: dict, port: int, workers: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "120",
           "--graceful-timeout", "30", "--log-level", "warning", "wsgi:app"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}); see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200 and len(children(proc.pid)) == workers:
                conn.close()
                return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gunicorn did not answer")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- the clients ---------------------------------------------------------------------------------
def multipart(fields: dict, files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="{name}"\r\n'
              f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n" for name, data in files]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def client(run: Run, port: int, token: str, lanes: list, photos: list[tuple[str, bytes]], seed: int) -> None:
    rng = random.Random(seed)
    categories = sorted(CATEGORIES)
    while (up := run.next()) is not None:
        lane = lanes[rng.randrange(len(lanes))]
        p = lane.interpolate(rng.random(), normalized=True)
        fields = {"category": rng.choice(categories), "description": f"压力测试 {up.marker}", "lat": f"{p.y:.7f}",
                  "long": f"{p.x:.7f}", "position_source": "geolocation", "accuracy": "8"}
        body, ctype = multipart(fields, rng.sample(photos, up.photos))
        up.start = time.time()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            conn.request("POST", "/api/reports", body, {"Authorization": f"Bearer {token}", "Content-Type": ctype})
            resp = conn.getresponse()
            data = resp.read()
            up.status = resp.status
            if resp.status == 201:
                up.code = json.loads(data)["service_request"]["service_request_id"]
            else:
                up.error = f"HTTP {resp.status}: {data[:200]!r}"
        except (OSError, http.client.HTTPException) as exc:
            up.error = f"{type(exc).__name__}: {exc}"
        finally:
            up.end = time.time()
            conn.close()


def killer(run: Run, master: int, thresholds: list[int], done: threading.Event) -> None:
    """SIGKILL a worker once each threshold of started uploads is reached; note when gunicorn replaced it."""
    for at in thresholds:
        while run.started < at and not done.is_set():
            time.sleep(0.01)
        if done.is_set():
            return
        workers = children(master)
        victim = random.Random(at).choice(workers)
        kill = {"pid": victim, "started": run.started, "acked": run.acked(), "at": time.time()}
        run.kills.append(kill)
        os.kill(victim, signal.SIGKILL)
        while not done.is_set():
            now = children(master)
            if victim not in now and len(now) == len(workers):
                kill["respawn_s"] = time.time() - kill["at"]
                break
            time.sleep(0.05)


def backer(run: Run, at: int, done: threading.Event, backend: Backend, db: str, dest: Path, env: dict) -> None:
    while run.started < at and not done.is_set():
        time.sleep(0.01)
    run.backup.update(started=run.started, acked=run.acked(), t0=time.time())
    if backend.name == "gpkg":
        cmd = [sys.executable, "-m", "gisapp", "backup", str(dest)]
    else:
        cmd = ["pg_dump", "-Fc", "-f", str(dest), db]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    run.backup.update(t1=time.time(), returncode=proc.returncode, output=(proc.stdout + proc.stderr).strip())


# --- the check -----------------------------------------------------------------------------------
def check(db: str, uploads: Path, run: Run, prefix: str, backup: dict | None = None) -> dict:
    """The consistency check of a store against what the clients saw and the photo folder.
    ``backup``: the store is a restored backup taken between backup['t0'] and backup['t1']
    (check records → files only; every upload acknowledged before t0 must be in it)."""
    store = open_store(db, load_registry(ROOT / "layers"))
    try:
        reports = store.read("reports", columns=["code", "description"], geometry=False)
        photos = store.read("report_photos", columns=["report_code", *VARIANTS], geometry=False)
        events = store.read("report_events", where={"action": "report"}, columns=["report_code"], geometry=False)
        integrity = (store.connect().execute("PRAGMA integrity_check").fetchone()[0] if hasattr(store, "path")
                     else "n/a (PostgreSQL)")
    finally:
        store.close()
    by_marker: dict[str, list[str]] = {}
    for code, text in zip(reports["code"], reports["description"].fillna("")):
        if prefix in text:
            by_marker.setdefault(text.split(prefix, 1)[1].split()[0], []).append(code)
    photo_rows: dict[str, list[dict]] = {}
    for row in photos.to_dict("records"):
        photo_rows.setdefault(row["report_code"], []).append(row)
    with_event = set(events["report_code"])
    sent = {u.marker[len(prefix):]: u for u in run.uploads}

    def complete(code: str, u: Upload) -> bool:
        rows = photo_rows.get(code, [])
        return (len(rows) == u.photos and code in with_event
                and all((uploads / r[v]).is_file() for r in rows for v in VARIANTS))

    out = {"integrity": integrity, "acknowledged": 0, "stored": 0, "lost": [], "duplicated": [], "partial": [],
           "wrong_code": [], "unacked": 0, "unacked_stored": 0, "unknown": []}
    for key, codes in by_marker.items():
        u = sent.get(key)
        if u is None:
            out["unknown"].append(key)
            continue
        if len(codes) > 1:
            out["duplicated"].append(u.marker)
        out["partial"] += [c for c in codes if not complete(c, u)]
    cut = backup["t0"] if backup else None
    for key, u in sent.items():
        codes = by_marker.get(key, [])
        if u.acknowledged and (cut is None or u.end < cut):
            out["acknowledged"] += 1
            if not codes:
                out["lost"].append(u.marker)
            elif len(codes) == 1 and complete(codes[0], u):
                if codes[0] == u.code:
                    out["stored"] += 1
                else:
                    out["wrong_code"].append(u.marker)
        elif not u.acknowledged:
            out["unacked"] += 1
            out["unacked_stored"] += bool(codes)
    if backup:
        out["in_backup"] = sum(1 for key in by_marker if key in sent)
        out["after_backup"] = sum(1 for key in by_marker if key in sent and sent[key].start > backup["t1"])
        return out
    named = {r[v] for rows in photo_rows.values() for r in rows for v in VARIANTS}
    files = [p for p in uploads.rglob("*") if p.is_file() and p.relative_to(uploads).parts[0] != "imports"]
    out["orphaned"] = [str(p.relative_to(uploads)) for p in files if str(p.relative_to(uploads)) not in named]
    out["tmp_left"] = [p for p in out["orphaned"] if p.startswith(".tmp/")]
    out["files"] = len(files)
    return out


def restore(backend: Backend, dump: Path, env: dict) -> tuple[str, float, str]:
    """The backup restored into a new store (``gisapp restore`` / ``pg_restore``)."""
    start = time.time()
    db = backend.new("restored")
    if backend.name == "gpkg":
        cmd = [sys.executable, "-m", "gisapp", "restore", str(dump), "--yes"]
        proc = subprocess.run(cmd, env={**env, "GISAPP_DATABASE": db}, cwd=ROOT, capture_output=True, text=True)
    else:  # into a database that has PostGIS already, as a role that does not own the extension
        toc = subprocess.run(["pg_restore", "-l", str(dump)], capture_output=True, text=True, check=True).stdout
        skip = ("COMMENT - EXTENSION postgis", "TABLE DATA public spatial_ref_sys")
        (dump.parent / "restore.list").write_text("".join(line + "\n" for line in toc.splitlines()
                                                          if not any(s in line for s in skip)))
        proc = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "-L", str(dump.parent / "restore.list"),
                               "-d", db, str(dump)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"restore failed: {proc.stdout}{proc.stderr}")
    return db, time.time() - start, (proc.stdout + proc.stderr).strip()


# --- the run -------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("gpkg", "postgis"), default="gpkg")
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--max-photos", type=int, default=3)
    parser.add_argument("--kill-at", type=float, default=0.4, help="fraction of the uploads started when a worker is killed")
    parser.add_argument("--kills", type=int, default=1, help="workers killed, the next ones every 5 %% of the uploads")
    parser.add_argument("--backup-at", type=float, default=0.6, help="fraction started when the backup begins")
    parser.add_argument("--postgres", default=PG_URL)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the folder (and the PostGIS databases)")
    args = parser.parse_args()

    photos = [(p.name, p.read_bytes()) for p in sorted(PHOTOS.glob("*.jpg"))]
    if not photos:
        sys.exit(f"no test photos in {PHOTOS}")
    folder = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    uploads = folder / "uploads"
    backend = Backend(args.backend, folder, args.postgres)
    print(f"{args.backend}: {args.uploads} uploads from {args.clients} clients, gunicorn with {args.workers} sync workers, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; folder {folder}")
    proc = None
    try:
        t = time.time()
        db = backend.new("live")
        tokens, lanes = make_demo(db, uploads, args.clients)
        print(f"demo store made in {time.time() - t:.1f} s")
        env = env_for(db, uploads)
        port = free_port()
        proc = start_gunicorn(env, port, args.workers, folder / "gunicorn.log")
        rng = random.Random(args.seed)
        prefix = f"bench-{uuid.uuid4().hex[:8]}-"
        run = Run([Upload(i + 1, f"{prefix}{i + 1:05d}", rng.randint(1, min(args.max_photos, len(photos))))
                   for i in range(args.uploads)])
        done = threading.Event()
        dump = folder / ("backup.gpkg" if args.backend == "gpkg" else "backup.dump")
        kill_at = [int(args.uploads * (args.kill_at + 0.05 * i)) for i in range(args.kills)]
        helpers = [threading.Thread(target=killer, args=(run, proc.pid, kill_at, done)),
                   threading.Thread(target=backer, args=(run, int(args.uploads * args.backup_at), done, backend, db, dump, env))]
        threads = [threading.Thread(target=client, args=(run, port, tokens[i], lanes, photos, args.seed * 1000 + i))
                   for i in range(args.clients)]
        start = time.time()
        for th in helpers + threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.time() - start
        done.set()
        for th in helpers:
            th.join()
        load = os.getloadavg()[0]
        stop(proc)
        proc = None

        live = check(db, uploads, run, prefix)
        restored, restore_s, _ = restore(backend, dump, env) if run.backup.get("returncode") == 0 else (None, 0, "")
        back = check(restored, uploads, run, prefix, run.backup) if restored else None
        log = folder / "gunicorn.log"
        report(args, run, live, back, elapsed, load, restore_s, folder, recovered(log), server_errors(log))
    finally:
        if proc is not None:
            stop(proc)
        backend.close(args.keep)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def server_errors(log: Path) -> list[str]:
    """The exception line ending each traceback the workers logged (500s), without SIGKILL notes."""
    lines, out = log.read_text(errors="replace").splitlines(), []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            j = i + 1
            while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
                j += 1
            out.append(lines[j] if j < len(lines) else "?")
    return out


def recovered(log: Path) -> list[str]:
    """What restarted workers did with the staged files of the killed ones (gisapp.reports.files logs it)."""
    return [line.split("uploads: ", 1)[1] for line in log.read_text(errors="replace").splitlines()
            if "photo files of interrupted uploads" in line]


def report(args, run: Run, live: dict, back: dict | None, elapsed: float, load: float, restore_s: float,
           folder: Path, recoveries: list[str], errors: list[str]) -> None:
    ups = run.uploads
    acked = [u for u in ups if u.acknowledged]
    failed = [u for u in ups if not u.acknowledged]
    lat = sorted(u.end - u.start for u in acked)
    killed_errors = sorted({(u.error or "").split(":")[0] for u in failed})
    print()
    print(f"uploads sent                          {len(ups)} ({sum(u.photos for u in ups)} photos)")
    print(f"acknowledged (201)                    {len(acked)}")
    print(f"stored exactly once, complete         {live['stored']}")
    print(f"lost (acknowledged, not stored)       {len(live['lost'])}")
    print(f"duplicated (marker stored > once)     {len(live['duplicated'])}")
    print(f"partial (rows or files missing)       {len(live['partial'])}")
    print(f"stored under another code             {len(live['wrong_code'])}")
    print(f"orphaned files (of {live['files']})   ".ljust(38) + f"{len(live['orphaned'])} ({len(live['tmp_left'])} in .tmp)")
    print(f"unacknowledged                        {len(failed)} ({', '.join(killed_errors) or '-'})")
    print(f"  of which stored (complete)          {live['unacked_stored']}")
    print(f"uploads per second (acknowledged)     {len(acked) / elapsed:.1f} over {elapsed:.1f} s "
          f"(median {lat[len(lat) // 2]:.2f} s, p95 {lat[int(len(lat) * 0.95)]:.2f} s per upload)")
    for kill in run.kills:
        print(f"worker killed (SIGKILL)               pid {kill['pid']} when upload #{kill['started']} had started "
              f"({kill['acked']} acknowledged); replaced in {kill.get('respawn_s', float('nan')):.1f} s")
    print(f"staged files recovered at restart     {'; '.join(recoveries) or 'none left'}")
    print(f"server errors logged (500)            {len(errors)}" + (f": {'; '.join(sorted(set(errors)))[:300]}" if errors else ""))
    print(f"store integrity                       {live['integrity']}")
    b = run.backup
    print(f"backup ({'gisapp backup' if args.backend == 'gpkg' else 'pg_dump -Fc'})"
          .ljust(38) + f"began at upload #{b.get('started')} ({b.get('acked')} acknowledged), "
          f"took {b.get('t1', 0) - b.get('t0', 0):.1f} s, exit {b.get('returncode')}")
    if back is None:
        print(f"  backup failed: {b.get('output')}")
    else:
        print(f"  restored ({'gisapp restore' if args.backend == 'gpkg' else 'pg_restore'}) in {restore_s:.1f} s: "
              f"{back['in_backup']} bench reports, integrity {back['integrity']}")
        print(f"  acknowledged before it began        {back['acknowledged']}, in the backup complete: {back['stored']}, "
              f"lost {len(back['lost'])}")
        print(f"  duplicated / partial / wrong code   {len(back['duplicated'])} / {len(back['partial'])} / "
              f"{len(back['wrong_code'])}; unknown to the live store {len(back['unknown'])}; "
              f"begun after it ended {back['after_backup']}")
    print(f"load average at the end               {load:.1f} on {os.cpu_count()} cores")
    ok = (not live["lost"] and not live["duplicated"] and not live["partial"] and not live["orphaned"]
          and not live["wrong_code"] and live["stored"] == len(acked) and back is not None and not back["lost"]
          and not back["duplicated"] and not back["partial"] and not back["after_backup"] and not back["unknown"])
    print(f"\nconsistency: {'OK' if ok else 'FAILED'}")
    if not ok:
        for key in ("lost", "duplicated", "partial", "wrong_code", "orphaned"):
            if live[key]:
                print(f"  {key}: {live[key][:10]}")
        print(f"  (folder kept: {folder}; rerun with --keep to keep it)")
    for u in failed[:5]:
        print(f"  unacknowledged #{u.n}: {u.error}")


if __name__ == "__main__":
    main()
