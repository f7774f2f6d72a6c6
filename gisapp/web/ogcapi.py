"""OGC API - Features (to be filled in by the standard-interfaces issue)."""
from flask import Blueprint

bp = Blueprint("ogcapi", __name__, url_prefix="/ogcapi")
