"""Backups taken while other processes write are consistent; restore replaces the store atomically."""
import multiprocessing as mp
import subprocess
import sys

import pandas as pd
import pytest

from gisapp.backup import backup, check_copy, restore
from gisapp.errors import StoreError
from gisapp.registry import load_registry
from gisapp.storage import open_store

from conftest import LAYERS


def _writer(path, n):
    store = open_store(path, load_registry(LAYERS))
    for i in range(n):
        with store.writer("writer") as w:
            w.insert("activity_log", pd.DataFrame([{"log_date": "2023-12-01", "kind": "flyers_cleaned",
                                                    "quantity": 1.0, "note": f"n{i}", "author": "w",
                                                    "created_at": "2023-12-01T00:00:00Z"}]))


def test_backup_during_writes_is_consistent(demo_copy, registry, tmp_path):
    store = open_store(str(demo_copy), registry)
    before = store.count("activity_log")
    proc = mp.get_context("spawn").Process(target=_writer, args=(str(demo_copy), 150))
    proc.start()
    copies = []
    for k in range(3):
        dest = tmp_path / f"backup{k}.gpkg"
        counts = backup(store, dest)
        copies.append(counts["activity_log"])
        # each entry is written with its audit row in one transaction: a consistent copy has both or neither
        copy = open_store(str(dest), registry)
        assert copy.count("activity_log") - before == copy.count("audit", where={"actor": "writer"})
    proc.join(120)
    assert proc.exitcode == 0
    assert copies == sorted(copies) and before <= copies[0]
    final = tmp_path / "final.gpkg"
    assert backup(store, final)["activity_log"] == before + 150
    out = subprocess.run(["ogrinfo", "-ro", "-so", str(final), "back_lanes"], capture_output=True, text=True)
    assert "Feature Count: 21" in out.stdout
    with pytest.raises(StoreError, match="exists"):
        backup(store, final)


def test_restore_checks_then_replaces(demo_copy, registry, tmp_path):
    store = open_store(str(demo_copy), registry)
    saved = tmp_path / "saved.gpkg"
    backup(store, saved)
    with store.writer("oops") as w:
        w.delete("back_lanes", int(store.read("back_lanes", columns=["code"]).index[0]))
    store.close()
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError):
        restore(junk, demo_copy, registry)
    assert open_store(str(demo_copy), registry).count("back_lanes") == 20  # untouched by the failed restore
    restore(saved, demo_copy, registry)
    assert open_store(str(demo_copy), registry).count("back_lanes") == 21
    assert check_copy(demo_copy, registry)["back_lanes"] == 21


def test_backup_and_restore_commands(demo_copy, tmp_path):
    env = {"GISAPP_DATABASE": str(demo_copy), "PATH": "/usr/bin:/bin"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "gisapp", *a], env=env, capture_output=True, text=True)  # noqa: E731
    proc = run("backup", str(tmp_path / "b.gpkg"))
    assert proc.returncode == 0 and "integrity ok" in proc.stdout, proc.stderr
    again = run("backup", str(tmp_path / "b.gpkg"))
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    proc = run("restore", str(tmp_path / "b.gpkg"), "--yes", "--actor", "ops")
    assert proc.returncode == 0, proc.stderr
    store = open_store(str(demo_copy), load_registry(LAYERS))
    assert store.read("audit").iloc[-1][["actor", "action"]].tolist() == ["ops", "restore"]
