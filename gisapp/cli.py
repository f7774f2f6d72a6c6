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
from .snapshot.cli import atlas_cmd, snapshot_cmd
from .reports.cli import import_reports_cmd


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
@click.option("--layer", "layer_id", required=True, help="Layer id, 'reports', or 'all' (.gpkg or .zip).")
@click.option("--community", default=None, help="Only this community (code).")
@click.option("--status", default=None, help="Only these latest statuses, comma-separated (done,accepted).")
@click.option("--as-of", default=None, help="The state on this date (YYYY-MM-DD).")
@click.option("--public", is_flag=True, help="Leave out private fields (personal data) and non-public layers.")
@with_appcontext
def export_cmd(output, layer_id, community, status, as_of, public):
    """Export a layer with its progress: .gpkg, .geojson, .csv (Excel), .zip (shapefiles) or .shp."""
    from .catalog import all_collections
    from .db import get_store
    from .exports import export, format_for, parse_filter
    store = get_store()
    if layer_id not in {c.id for c in all_collections(store.registry)} | {"all"}:
        raise click.ClickException(f"unknown layer '{layer_id}'")
    flt = parse_filter(community, status, as_of)
    n = export(store, layer_id, format_for(output), output, flt, include_private=not public)
    click.echo(f"exported {n} features to {output}")


@click.command("openapi")
@click.argument("output", required=False, type=click.Path(dir_okay=False))
@with_appcontext
def openapi_cmd(output):
    """Write the OpenAPI 3.0 document of the HTTP API (to stdout without OUTPUT)."""
    from .db import get_registry
    from .openapi import build
    text = json.dumps(build(get_registry()), ensure_ascii=False, indent=2)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        click.echo(text)


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


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["viewer", "field", "handler", "official", "admin"]), required=True)
@click.option("--name", "display_name", default=None, help="Display name.")
@click.option("--unit", default=None, help="Community code or support unit a handler answers for.")
@click.password_option(help="Asked for when not given.")
@actor_option
@with_appcontext
def create_user_cmd(username, role, display_name, unit, password, actor):
    """Create an account (use it for the first admin)."""
    from .auth import create_user
    from .db import get_store
    create_user(get_store(), username, password, role, actor, display_name=display_name, unit=unit)
    click.echo(f"user {username} created with role {role}")


@click.command("create-token")
@click.argument("username")
@click.option("--label", default="", help="What the token is for.")
@actor_option
@with_appcontext
def create_token_cmd(username, label, actor):
    """Create an API token for a user (printed once; send it as 'Authorization: Bearer <token>')."""
    from .auth import create_token
    from .db import get_store
    click.echo(create_token(get_store(), username, label, actor))


@click.command("revoke-token")
@click.argument("username")
@click.option("--label", default=None, help="Only the tokens with this label (default: all of the user's).")
@actor_option
@with_appcontext
def revoke_token_cmd(username, label, actor):
    """Revoke a user's API tokens; every worker refuses them from the next request on."""
    from .auth import revoke_tokens
    from .db import get_store
    n = revoke_tokens(get_store(), username, actor, label)
    click.echo(f"revoked {n} token{'s' if n != 1 else ''} of {username}")


@click.command("backup")
@click.argument("output", type=click.Path(dir_okay=False))
@with_appcontext
def backup_cmd(output):
    """Back up the store to a new GeoPackage file (safe while the app is running)."""
    from .backup import backup
    from .db import get_store
    counts = backup(get_store(), output)
    click.echo(f"backup written to {output}: {sum(counts.values())} rows in {len(counts)} tables, integrity ok")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@actor_option
@with_appcontext
def restore_cmd(source, yes, actor):
    """Replace the store by a backup (stop the app first). The backup is checked before anything changes."""
    from flask import current_app
    from .backup import restore
    from .db import get_registry
    from .storage import open_store
    dest = current_app.config["DATABASE"]
    if not yes:
        click.confirm(f"replace {dest} by {source}?", abort=True)
    counts = restore(source, dest, get_registry())
    with open_store(dest, get_registry()).writer(actor) as w:
        w.audit("restore", None, None, f"restored from {source}")
    click.echo(f"restored {sum(counts.values())} rows in {len(counts)} tables into {dest}")


@click.command("upgrade-db")
@with_appcontext
def upgrade_db():
    """Bring the store up to the layer definitions: missing tables, columns and indexes."""
    from .db import get_store
    from .storage.schema import SCHEMA_VERSION
    store = get_store()  # opening the store upgraded it; this reports what that did
    for change in store.changes:
        click.echo(change)
    click.echo(f"store: {store.url}, schema version {store.meta('schema_version') or SCHEMA_VERSION}"
               + ("" if store.changes else ", up to date"))


@click.command("copy-store")
@click.argument("src")
@click.argument("dst")
@actor_option
@with_appcontext
def copy_store_cmd(src, dst, actor):
    """Copy every table, record and geometry of store SRC into the new, empty store DST
    (a .gpkg path or a postgresql:// URL, in either direction)."""
    from .db import get_registry
    from .storage import open_store
    from .storage.copy import copy_store
    source, target = open_store(src, get_registry()), open_store(dst, get_registry())
    counts = copy_store(source, target, actor)
    target.checkpoint()
    click.echo(f"copied {sum(counts.values())} rows in {len(counts)} tables from {source.url} to {target.url}")


COMMANDS = (backup_cmd, restore_cmd, create_user_cmd, create_token_cmd, revoke_token_cmd, init_db, load_demo_cmd, import_cmd, export_cmd, figures_cmd, openapi_cmd, snapshot_cmd, atlas_cmd, import_reports_cmd, upgrade_db, copy_store_cmd)


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
    except StartupError as exc:  # store problems met by a command
        click.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(2)
