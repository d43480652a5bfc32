#!/usr/bin/env bash
# Installs podman and runc from Debian so the container image test can run
# the image (internal/ociimage: podman load + podman run --runtime runc ...
# version); there is no Docker engine on the build machines, and Debian's
# default runtime crun refuses their hybrid cgroup hierarchy. Idempotent.
set -euo pipefail
# systemd-analyze (package systemd) checks the unit in deploy/.
if command -v podman >/dev/null && command -v runc >/dev/null && command -v systemd-analyze >/dev/null; then
  podman --version
  exit 0
fi
echo "install-podman: installing podman, runc and systemd from Debian"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc systemd >/dev/null
podman --version
