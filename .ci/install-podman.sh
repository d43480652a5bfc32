#!/usr/bin/env bash
# Installs podman from Debian so the container image test can run the
# image (internal/ociimage: podman load + podman run ... version); there is
# no Docker engine on the build machines. Idempotent.
set -euo pipefail
if command -v podman >/dev/null; then
  podman --version
  exit 0
fi
echo "install-podman: installing podman from Debian"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null
podman --version
