#!/usr/bin/env bash
# Installs the system packages imageattach's tests and demo need (Debian/Ubuntu),
# skipping the work when they are already there.
set -euo pipefail

packages=(
  libmagickwand-6.q16-6        # Wand's ImageMagick
  libmagickcore-6.q16-6-extra  # SVG (librsvg) and other coders
  ghostscript                  # PDF rasterising
  librsvg2-2                   # SVG rendering (imageattach calls librsvg and cairo directly)
  fonts-dejavu-core
)
if [ "${IMAGEATTACH_E2E_DEPS:-1}" = 1 ]; then
  packages+=(chromium chromium-driver nginx-light wrk libvips42)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
