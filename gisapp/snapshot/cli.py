"""Command line: ``gisapp snapshot KIND KEY`` and ``gisapp atlas`` (registered in gisapp/cli.py)."""
from __future__ import annotations

import datetime as dt
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import get_store
from ..errors import GisappError
from .areas import ATLAS_LAYERS, KINDS
from .settings import options_kwargs


def _options(as_of, paper, orientation, lang):
    from .document import Options
    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--as-of") from None
    kwargs = {**options_kwargs(current_app.config, current_app.instance_path, get_store()), "font_build": "sync"}
    return Options(as_of=day, paper=paper, orientation=orientation, lang=lang, **kwargs)


def common(f):
    f = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)(f)
    f = click.option("--orientation", type=click.Choice(["landscape", "portrait"]), default="landscape",
                     show_default=True)(f)
    f = click.option("--paper", type=click.Choice(["A4", "A3"]), default="A4", show_default=True)(f)
    f = click.option("--as-of", default=None, help="The data as it stood on this date (YYYY-MM-DD).")(f)
    return click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                        help="The PDF file to write (default: a name made of the area and the date).")(f)


@click.command("snapshot")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("key")
@common
@click.option("--map-png", type=click.Path(dir_okay=False), default=None, help="Also write the map as PNG.")
@with_appcontext
def snapshot_cmd(kind, key, output, as_of, paper, orientation, lang, map_png):
    """Write the PDF snapshot of one area: KIND is community, area, lane, market or bbox; KEY is a
    code or name (bbox: minlon,minlat,maxlon,maxlat in WGS84)."""
    from ..db import get_figures, get_store
    from . import make_snapshot, snapshot_pdf
    opts = _options(as_of, paper, orientation, lang)
    start = time.perf_counter()
    try:
        snap = make_snapshot(get_store(), get_figures(), kind, key, opts)
    except GisappError as exc:
        raise click.ClickException(f"{exc.message('en')} / {exc.message('zh')}") from None
    output = output or f"snapshot-{snap.area.slug}-{snap.as_of}.pdf"
    with open(output, "wb") as f:
        f.write(snapshot_pdf(snap, opts))
    if map_png:
        with open(map_png, "wb") as f:
            f.write(snap.map_png)
    n = len(snap.problems or [])
    click.echo(f"{output}: {snap.title}, as of {snap.as_of}, {n} open problems "
               f"({time.perf_counter() - start:.1f} s)")


@click.command("atlas")
@click.option("--layer", type=click.Choice(list(ATLAS_LAYERS)), default="communities", show_default=True,
              help="One page per feature of this layer.")
@common
@with_appcontext
def atlas_cmd(layer, output, as_of, paper, orientation, lang):
    """Write the atlas: a cover with the subdistrict's totals and one page per community (or per
    feature of --layer)."""
    from ..db import get_figures, get_store
    from .atlas import atlas_pdf, build_atlas
    opts = _options(as_of, paper, orientation, lang)
    start = time.perf_counter()
    doc = build_atlas(get_store(), get_figures(), opts, layer)
    body, index = atlas_pdf(doc, opts)
    output = output or f"atlas-{layer}-{doc.cover.as_of}.pdf"
    with open(output, "wb") as f:
        f.write(body)
    click.echo(f"{output}: {len(doc.pages)} pages after the cover, as of {doc.cover.as_of} "
               f"({time.perf_counter() - start:.1f} s)")


COMMANDS = (snapshot_cmd, atlas_cmd)
