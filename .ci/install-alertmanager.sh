#!/usr/bin/env bash
# Installs Prometheus Alertmanager from source with `go install`, so the
# Alertmanager receiver tests (internal/receivers) post to a real v2 API
# instead of a mock that agrees with our assumptions. Idempotent: when the
# alertmanager already in $(go env GOPATH)/bin was built from the wanted
# module version, nothing is done.
#
# It is a large build (hundreds of packages): expect several minutes on a
# 2-core machine (81 s measured with a cold module cache and a partly warm
# build cache; longer when nothing is cached), well under a second when
# skipped.
#
#   ALERTMANAGER_VERSION  module version to install (default pinned below).
#                         When the Go proxy refuses it (403/404/410), the
#                         older fallbacks below are tried in order.
set -euo pipefail

wanted="${ALERTMANAGER_VERSION:-v0.28.1}"
fallbacks=(v0.28.0 v0.27.0 v0.26.0)
module="github.com/prometheus/alertmanager"

if ! command -v go >/dev/null; then
  echo "install-alertmanager: go is required" >&2
  exit 1
fi

gobin="$(go env GOBIN)"
if [ -z "$gobin" ]; then
  gobin="$(go env GOPATH)/bin"
fi
bin="$gobin/alertmanager"

# installed_version prints the module version the binary was built from.
# `alertmanager --version` only shows a version when built with promu's
# ldflags (go install does not set them), so the build info that every Go
# binary embeds is the reliable source; --version is checked first anyway.
installed_version() {
  [ -x "$bin" ] || return 0
  local v
  v=$("$bin" --version 2>&1 | sed -n 's/^alertmanager, version \([0-9][^ ]*\).*/v\1/p' | head -n1)
  if [ -z "$v" ]; then
    v=$(go version -m "$bin" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m {print $3}' | head -n1)
  fi
  printf '%s' "$v"
}

have="$(installed_version)"
for v in "$wanted" "${fallbacks[@]}"; do
  if [ "$have" = "$v" ]; then
    echo "install-alertmanager: alertmanager $have already installed at $bin (skipped)"
    exit 0
  fi
done

start=$(date +%s)
for v in "$wanted" "${fallbacks[@]}"; do
  echo "install-alertmanager: go install $module/cmd/alertmanager@$v into $gobin (found: ${have:-none})"
  log=$(mktemp)
  if GOBIN="$gobin" go install "$module/cmd/alertmanager@$v" 2>&1 | tee "$log"; then
    if [ -x "$bin" ] && [ "$(installed_version)" = "$v" ]; then
      rm -f "$log"
      echo "install-alertmanager: alertmanager $v installed at $bin in $(( $(date +%s) - start ))s"
      exit 0
    fi
  fi
  if grep -qE '(403|404|410) (Forbidden|Not Found|Gone)' "$log"; then
    rm -f "$log"
    echo "install-alertmanager: the module proxy refused $v; trying an older version" >&2
    continue
  fi
  rm -f "$log"
  echo "install-alertmanager: go install of $v failed" >&2
  exit 1
done
echo "install-alertmanager: no alertmanager version could be installed (tried $wanted ${fallbacks[*]})" >&2
exit 1
