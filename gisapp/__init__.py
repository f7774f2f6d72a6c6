"""gisapp: the web GIS of Fushi Subdistrict's civilized-city campaign."""
from __future__ import annotations

from flask import Flask

from .config import ROOT, load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app. Raises :class:`gisapp.errors.StartupError` with a clear
    message when the configuration, a layer definition or the store is bad."""
    app = Flask(__name__, instance_relative_config=True, static_folder=str(ROOT / "static"))
    load_config(app, config)
    from .jsonio import StrictJSONProvider
    app.json = StrictJSONProvider(app)

    from . import assets, db, errors, i18n
    from .web import api, maps, ogcapi, snapshots

    errors.init_app(app)
    i18n.init_app(app)
    assets.init_app(app)
    db.init_app(app)
    from .web import auth as web_auth
    web_auth.init_app(app)
    app.register_blueprint(maps.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ogcapi.bp)
    from .web.exports import bp as exports_bp  # downloads and /api/openapi.json
    app.register_blueprint(exports_bp)
    app.register_blueprint(snapshots.bp)
    from .web import reports as reports_web; app.register_blueprint(reports_web.bp)  # noqa: E702 -- field reports
    from .web import admin, editing, ledger
    app.register_blueprint(admin.bp)
    app.register_blueprint(ledger.bp)
    app.register_blueprint(editing.bp)
    from . import cli
    cli.init_app(app)
    return app
