#!/usr/bin/env bash
# Installs azurite (the Azure Storage emulator) from the npm registry so the
# Storage Queue poller tests have a real peer. Idempotent: a matching version
# already in place is left alone. The directory is fixed so that
# internal/testenv finds azurite-queue without it being on PATH.
#
#   PLUMB_AZURITE_DIR  install prefix (default $HOME/.cache/plumb/azurite)
#   AZURITE_VERSION    npm version to install (default pinned below)
set -euo pipefail

version="${AZURITE_VERSION:-3.35.0}"
dir="${PLUMB_AZURITE_DIR:-$HOME/.cache/plumb/azurite}"
bin="$dir/node_modules/.bin/azurite-queue"
pkg="$dir/node_modules/azurite/package.json"

if ! command -v npm >/dev/null; then
  echo "install-azurite: npm is required (Node.js >= 18)" >&2
  exit 1
fi

installed=""
if [ -f "$pkg" ]; then
  installed=$(node -e 'process.stdout.write(require(process.argv[1]).version)' "$pkg" 2>/dev/null || true)
fi

if [ -x "$bin" ] && [ "$installed" = "$version" ]; then
  echo "install-azurite: azurite $version already installed in $dir (skipped)"
  exit 0
fi

mkdir -p "$dir"
echo "install-azurite: installing azurite@$version into $dir (found: ${installed:-none})"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "azurite@$version"

if [ ! -x "$bin" ]; then
  echo "install-azurite: $bin missing after install" >&2
  exit 1
fi
echo "install-azurite: azurite $version installed; azurite-queue at $bin"
