#!/usr/bin/env bash
# A venv with pygeoapi (from PyPI) able to use its GeoPackage provider (SQLiteGPKG), for
# benchmarks/bench_ogcapi.py. That provider loads SpatiaLite, so it needs
#   - Debian's libsqlite3-mod-spatialite (installed here when run as root), and
#   - a Python whose sqlite3 can load extensions: Debian's /usr/bin/python3 can; the
#     Python gisapp's venv is made from on these machines cannot.
# Prints the venv's python on success; exits 1 with the reason otherwise.
set -euo pipefail
VENV="${PYGEOAPI_VENV:-/tmp/gisapp-bench/pygeoapi-venv}"
PY="${PYGEOAPI_PYTHON:-/usr/bin/python3}"

if ! "$PY" -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension' 2>/dev/null; then
  echo "$PY cannot load SQLite extensions (no enable_load_extension)" >&2; exit 1
fi
if ! ls /usr/lib/*/mod_spatialite.so >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libsqlite3-mod-spatialite >/dev/null \
      || { echo "could not install libsqlite3-mod-spatialite" >&2; exit 1; }
  else
    echo "missing libsqlite3-mod-spatialite (apt-get install libsqlite3-mod-spatialite as root)" >&2; exit 1
  fi
fi
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV" >&2
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "pygeoapi>=0.21,<0.22" "gunicorn>=22" >&2
"$VENV/bin/python" -c "import sqlite3; c = sqlite3.connect(':memory:'); c.enable_load_extension(True); \
c.execute(\"SELECT load_extension('mod_spatialite')\")" \
  || { echo "SpatiaLite does not load in $VENV" >&2; exit 1; }
echo "$VENV/bin/python"
