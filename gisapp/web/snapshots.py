"""Area snapshots for officials (to be filled in by the snapshots issue)."""
from flask import Blueprint

bp = Blueprint("snapshots", __name__)
