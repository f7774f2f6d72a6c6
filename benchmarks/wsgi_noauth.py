"""gisapp without its per-request access check: benchmark only, to show what that check costs."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gisapp.web.auth import check_access  # noqa: E402
from wsgi import app  # noqa: E402

app.before_request_funcs[None].remove(check_access)
