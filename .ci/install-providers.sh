#!/usr/bin/env bash
# Builds the small Terraform providers the tfdrift tests run for real
# (hashicorp/local and hashicorp/random), from the Go module proxy, into
# PLUMB_TF_PROVIDERS_DIR (default: the first GOPATH entry's bin). The tests
# point Terraform at that directory with dev_overrides.
#
# Idempotent: a provider is rebuilt only when its binary is missing or was
# built from another module version. The version check reads the build
# information Go embeds in every binary (`go version -m`), so the record
# cannot disagree with the binary the way a separate stamp file could.
set -euo pipefail

providers=(
  "github.com/terraform-providers/terraform-provider-local@v1.4.1-0.20260513075820-3561e410f9fe"
  "github.com/terraform-providers/terraform-provider-random@v1.3.2-0.20260824155315-e1092b0cfc07"
)

gopath="$(go env GOPATH)"
dir="${PLUMB_TF_PROVIDERS_DIR:-${gopath%%:*}/bin}"
mkdir -p "$dir"

for spec in "${providers[@]}"; do
  module="${spec%@*}"
  version="${spec#*@}"
  bin="$dir/${module##*/}"
  # The main module's line: "<tab>mod<tab>MODULE<tab>VERSION<tab>SUM".
  if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null |
      awk -v m="$module" -v v="$version" '$1 == "mod" && $2 == m && $3 == v { found = 1 } END { exit !found }'; then
    echo "install-providers: ${module##*/} $version already in $dir"
    continue
  fi
  echo "install-providers: building ${module##*/} $version into $dir"
  # go install refuses to overwrite a file that is not a Go binary.
  rm -f "$bin"
  GOBIN="$dir" go install "$spec"
done
