#!/usr/bin/env bash
# Install the Debian packages gisapp's tests (and optional tools) need.
#   gdal-bin       ogrinfo/ogr2ogr: the tests check the store with GDAL's own tools
#   chromium       headless browser for the page tests
#   fonts-noto-cjk Chinese text in screenshots and PDFs
#   poppler-utils  pdftotext/pdftoppm/pdfinfo: the tests read the snapshot PDFs back
#   libimage-exiftool-perl  exiftool: the field-report tests check EXIF reading against it
#   libreoffice-calc-nogui  the tests open exported ledgers in LibreOffice
#   postgresql, postgresql-NN-postgis-3  the PostGIS backend's tests (scripts/postgres.sh starts the server)
#   python3-venv   only needed where Python comes from Debian
# Safe to re-run: does nothing when everything is present.
set -euo pipefail

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

need=()
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
installed fonts-noto-cjk || need+=(fonts-noto-cjk)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)  # snapshot PDFs read back in tests
command -v exiftool >/dev/null 2>&1 || need+=(libimage-exiftool-perl)  # EXIF oracle in the report tests
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc-nogui)  # ledgers must open in LibreOffice
pg_version() {  # the installed server's major version, else the one Debian's postgresql pulls in
  local v
  v="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)"
  [ -n "$v" ] || v="$(apt-cache depends postgresql 2>/dev/null | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -n 1)"
  echo "${v:-15}"
}
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=("postgresql-$(pg_version)-postgis-3")
"${PYTHON:-python3}" -c "import ensurepip" >/dev/null 2>&1 || need+=(python3-venv)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "missing system packages: ${need[*]} (run as root: apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
