"""``gisapp import-reports``: bulk import of a GIS file as field reports (or into a
layer), a dry run first, then one transaction with a progress bar."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from .readers import COORDS, Options


def _mapping(pairs) -> dict:
    out = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field or not column:
            raise click.BadParameter(f"use FIELD=COLUMN, not {pair!r}", param_hint="--map")
        out[field.strip()] = column.strip()
    return out


def _print_report(report: dict) -> None:
    rows = [("file", report["file"] + (f" / {report['member']}" if report.get("member") else "")),
            ("driver / layer", f"{report.get('driver')} / {report.get('layer') or '-'}"),
            ("features read", report["features_read"]),
            ("encoding", f"{report.get('encoding') or '-'} ({report.get('encoding_source') or '-'})"),
            ("CRS", f"{report.get('crs')} ({report.get('crs_source')}) -> EPSG:4326, coordinates {report['coords']}"),
            ("geometry types", report["geometry_types"]), ("repaired", report["repaired"]),
            ("refused", report["refused"]), ("outside the area", f"{report['outside']} ({report['outside_action']})"),
            ("fields mapped", report.get("fields_mapped")), ("ignored columns", report.get("ignored_columns")),
            ("possible duplicates", report.get("duplicates", "-")), ("to import", report["importable"])]
    for key, value in rows:
        click.echo(f"{key:>20}: {value}")
    for row in report["refused_rows"][:10]:
        click.echo(f"{'':>20}  row {row['row']}: {row['en']}")


@click.command("import-reports")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--target", default="reports", show_default=True, help="'reports' or a layer id.")
@click.option("--dry-run", is_flag=True, help="Only read and check; write nothing.")
@click.option("--encoding", default=None, help="Text encoding when there is no .cpg (default: detect).")
@click.option("--src-crs", default=None, help="CRS of a file that has none, e.g. EPSG:4544.")
@click.option("--coords", type=click.Choice(COORDS), default="wgs84", show_default=True,
              help="gcj02 (AMap, Tencent) or bd09 (Baidu) coordinates are converted to WGS84.")
@click.option("--layer", "layer_name", default=None, help="Layer inside the file (GeoPackage, GPX, KML).")
@click.option("--lon-col", default=None, help="CSV: longitude column (default: detect).")
@click.option("--lat-col", default=None, help="CSV: latitude column (default: detect).")
@click.option("--map", "pairs", multiple=True, help="FIELD=COLUMN, e.g. --map category=类别 (reports).")
@click.option("--source", default="inspection", show_default=True, help="Report source: field, inspection, complaint.")
@click.option("--json", "as_json", is_flag=True, help="Print the dry-run report as JSON.")
@click.option("--actor", default="cli", show_default=True, help="Who makes the change (audit trail).")
@with_appcontext
def import_reports_cmd(path, target, dry_run, encoding, src_crs, coords, layer_name, lon_col, lat_col, pairs,
                       source, as_json, actor):
    """Import a GIS file (zip/shapefile, GeoPackage, GeoJSON, KML/KMZ, GPX, CSV) as reports or into a layer."""
    from flask import current_app

    from ..db import get_store
    from . import Settings
    from .bulk import plan_import, run_import
    settings = Settings.from_config(current_app.config, current_app.instance_path)
    options = Options(encoding, src_crs, coords, layer_name, lon_col, lat_col)
    plan = plan_import(get_store(), Path(path), target, settings, options, _mapping(pairs), source, actor)
    if as_json:
        click.echo(json.dumps(plan.report, ensure_ascii=False, indent=2, default=str))
    else:
        _print_report(plan.report)
    if dry_run:
        return
    with click.progressbar(length=len(plan.rows), label="importing") as bar:
        result = run_import(get_store(), plan, actor, progress=bar.update)
    click.echo(f"imported {result['inserted']} features into {result['target']}")
