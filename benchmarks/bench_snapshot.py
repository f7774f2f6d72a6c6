"""Area snapshots on the demo data: one community's PDF and the 21-page atlas, against the targets
(one community under 1.5 s, the atlas under 20 s on a 2-core machine).

Printed, each the median of several runs:
- one community's PDF from a cold start (read the store, compute, draw the map, lay out the PDF),
  and from data already read (what the web app does after its first request on the same data);
- its steps: read the store, figures + map, PDF;
- the atlas (cover + 21 community pages), the store read once;
- side by side, the peer way of printing the same map: a vector PDF straight from Matplotlib,
  beside our 150 dpi PNG (which the PDF wraps).
The one-time build of the trimmed CJK font (kept in ~/.cache/gisapp/fonts) is timed separately.

Run: .venv/bin/python benchmarks/bench_snapshot.py [--runs 5] [--atlas-runs 2] [--community 后街社区]
(matplotlib and fpdf2 are dependencies of gisapp).
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gisapp import create_app  # noqa: E402
from gisapp.snapshot import Options, atlas_pdf, build_atlas, load_data, make_snapshot, snapshot_pdf  # noqa: E402
from gisapp.snapshot.areas import resolve_area  # noqa: E402
from gisapp.snapshot.data import select  # noqa: E402
from gisapp.snapshot.fontcache import trimmed_path  # noqa: E402
from gisapp.snapshot.fonts import find_font, mpl_families  # noqa: E402
from gisapp.snapshot.mapplot import MapPainter  # noqa: E402

TARGET_ONE, TARGET_ATLAS = 1.5, 20.0


CPU = {}  # the CPU time of the last timed() call, for a machine other jobs are using too


def timed(fn, runs: int, label: str = "") -> tuple[float, object]:
    times, cpu, result = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU["last"] = statistics.median(cpu)
    return statistics.median(times), result


def verdict(seconds: float, target: float) -> str:
    return (f"{seconds:6.2f} s (CPU {CPU['last']:.2f} s)   target < {target:g} s: "
            f"{'OK' if seconds < target else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--atlas-runs", type=int, default=2)
    parser.add_argument("--community", default="后街社区")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores" + (" (busy: wall times are inflated)" if load > 1 else ""))
    folder = Path(tempfile.mkdtemp(prefix="bench-snapshot-"))
    start = time.perf_counter()
    app = create_app({"DATABASE": str(folder / "demo.gpkg"), "TESTING": True})
    store, figures = app.extensions["gisapp"]["store"], app.extensions["gisapp"]["figures"]
    print(f"demo store made in {time.perf_counter() - start:.1f} s ({folder})")

    font = find_font()
    fresh = not trimmed_path(font).exists()
    opts = Options(font_build="sync")
    start = time.perf_counter()
    make_pdf = lambda data=None: snapshot_pdf(make_snapshot(store, figures, "community", args.community, opts, data), opts)
    make_pdf()  # warm-up: imports, Matplotlib's font cache, the trimmed font
    print(f"warm-up (imports, fonts{', trimmed CJK font built once' if fresh else ''}): "
          f"{time.perf_counter() - start:.1f} s")

    print(f"\none community ({args.community}), median of {args.runs}:")
    cold, pdf = timed(make_pdf, args.runs)
    print(f"  PDF, cold (store read included)   {verdict(cold, TARGET_ONE)}   {len(pdf) / 1024:.0f} KB")
    data = load_data(store)
    warm, _ = timed(lambda: make_pdf(data), args.runs)
    print(f"  PDF, data already read            {warm:6.2f} s (CPU {CPU['last']:.2f} s)")
    read, data = timed(lambda: load_data(store), args.runs)
    build, snap = timed(lambda: make_snapshot(store, figures, "community", args.community, opts, data), args.runs)
    lay, _ = timed(lambda: snapshot_pdf(snap, opts), args.runs)
    print(f"  steps: read the store {read:.2f} s · figures and map {build:.2f} s · PDF {lay:.2f} s")

    print(f"\natlas (cover + one page per community), median of {args.atlas_runs}:")
    atlas, (body, index) = timed(lambda: atlas_pdf(build_atlas(store, figures, opts), opts), args.atlas_runs)
    print(f"  {len(index)} pages                          {verdict(atlas, TARGET_ATLAS)}   {len(body) / 1024:.0f} KB")

    area = resolve_area(data.layers, store.registry, "community", args.community)
    sel, box = select(data, area), opts.layout.map_box[2:]
    fams = mpl_families()

    def render(fmt: str) -> int:
        painter = MapPainter(data, area, sel, box, "zh", fams)
        painter.render()  # draws and saves a PNG; save once more in the format asked for
        out = io.BytesIO()
        painter.fig.savefig(out, format=fmt, dpi=150)
        return len(out.getvalue())
    png, png_size = timed(lambda: render("png"), args.runs)
    vec, vec_size = timed(lambda: render("pdf"), args.runs)
    print(f"\nthe map alone (draw + one more save): PNG 150 dpi {png:.2f} s ({png_size / 1024:.0f} KB) · "
          f"vector PDF {vec:.2f} s ({vec_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
