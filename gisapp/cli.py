"""Command line: ``gisapp <command>`` (also available as ``flask --app gisapp <command>``)."""
from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
import unicodedata

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from .errors import GisappError, StartupError


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


actor_option = click.option("--actor", default=_actor, show_default="cli:<user>", help="Who makes the change (audit trail).")


@click.command("init-db")
@with_appcontext
def init_db():
    """Create the store if missing (and load the demo data unless GISAPP_LOAD_DEMO=false)."""
    from .db import get_store
    store = get_store()
    counts = {layer.id: store.count(layer.id) for layer in store.registry}
    click.echo(f"store: {store.url}")
    click.echo(f"layers: {len(counts)}, features: {sum(counts.values())}, "
               f"progress records: {store.count('progress')}")


@click.command("load-demo")
@click.option("--seed", default=2023, show_default=True, type=int)
@with_appcontext
def load_demo_cmd(seed: int):
    """Load the demo data of 富世街道 into an empty store."""
    from .db import get_store
    from .demo.load import load_demo
    if load_demo(get_store(), seed=seed):
        click.echo("demo data loaded")
    else:
        raise click.ClickException("the store already holds data; use a new database file")


@click.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--layer", "layer_id", required=True, help="Target layer id.")
@click.option("--encoding", default=None, help="Text encoding of a shapefile without .cpg (default: detect).")
@click.option("--src-crs", default=None, help="CRS of a file that has none, e.g. EPSG:4544.")
@click.option("--gcj02", is_flag=True, help="Coordinates are GCJ-02 (AMap); convert to WGS84.")
@actor_option
@with_appcontext
def import_cmd(path, layer_id, encoding, src_crs, gcj02, actor):
    """Import a GIS file (shapefile, zip, GeoPackage, GeoJSON, KML…) into a layer."""
    from .db import get_store
    from .gisio import import_file
    store = get_store()
    if layer_id not in store.registry:
        raise click.ClickException(f"unknown layer '{layer_id}'")
    result = import_file(store, layer_id, path, actor, encoding=encoding, src_crs=src_crs, gcj02=gcj02)
    click.echo(f"imported {result['inserted']} features into {layer_id}")
    if result["ignored_columns"]:
        click.echo(f"ignored columns: {', '.join(result['ignored_columns'])}")


@click.command("export")
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--layer", "layer_id", required=True)
@click.option("--public", is_flag=True, help="Leave out fields marked private (personal data).")
@with_appcontext
def export_cmd(output, layer_id, public):
    """Export a layer with its latest progress (.gpkg, .geojson or .shp)."""
    from .db import get_store
    from .gisio import export_layer
    store = get_store()
    if layer_id not in store.registry:
        raise click.ClickException(f"unknown layer '{layer_id}'")
    n = export_layer(store, layer_id, output, include_private=not public)
    click.echo(f"exported {n} features to {output}")


@click.command("figures")
@click.option("--as-of", default=None, help="Figures as they stood on this date (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@with_appcontext
def figures_cmd(as_of, as_json, lang):
    """Print the published figures beside the values computed from the store."""
    from .db import get_figures, get_store
    from .figures import compute
    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--as-of") from None
    rows = compute(get_store(), get_figures(), day)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    width = max(_width(r["label"][lang]) for r in rows)
    for r in rows:
        mark = "≥" if r["comparison"] == "at_least" else "="
        flag = "ok" if r["matches"] else "MISMATCH"
        label = r["label"][lang] + " " * (width - _width(r["label"][lang]))
        click.echo(f"{label}  {r['value']:>12,}  {mark} {r['published']:>12,.0f}  {r['unit'][lang]}  {flag}")


def _width(text: str) -> int:
    """Columns a string takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


COMMANDS = (init_db, load_demo_cmd, import_cmd, export_cmd, figures_cmd)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


def _factory() -> Flask:
    from . import create_app
    try:
        return create_app()
    except StartupError as exc:
        click.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(2)


def main() -> None:
    group = FlaskGroup(create_app=_factory, add_default_commands=True, load_dotenv=False,
                       help="gisapp: the campaign web GIS of 富世街道.")
    try:
        group.main()
    except GisappError as exc:
        click.secho(f"error: {exc.message('en')}", err=True, fg="red")
        sys.exit(2)
