#!/usr/bin/env bash
# Installs Debian's Chromium for the console's browser tests
# (internal/console, driven with chromedp). Idempotent: does nothing when a
# chromium binary is already on PATH.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  chromium --version 2>/dev/null || true
  exit 0
fi
echo "chromium missing: installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
chromium --version
