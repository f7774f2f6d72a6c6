#!/usr/bin/env bash
# Install the Debian packages gisapp's tests (and optional tools) need.
#   gdal-bin       ogrinfo/ogr2ogr: the tests check the store with GDAL's own tools
#   chromium       headless browser for the page tests
#   fonts-noto-cjk Chinese text in screenshots and PDFs
#   libreoffice-calc-nogui  the tests open exported ledgers in LibreOffice
#   python3-venv   only needed where Python comes from Debian
# Safe to re-run: does nothing when everything is present.
set -euo pipefail

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

need=()
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
installed fonts-noto-cjk || need+=(fonts-noto-cjk)
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc-nogui)  # ledgers must open in LibreOffice
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
