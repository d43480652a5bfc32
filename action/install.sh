#!/usr/bin/env bash
# Installs plumb for the plumb GitHub Action (action.yml) and prints its
# version. With PLUMB_VERSION set it downloads the release asset
# plumb-OS-ARCH (plumb-windows-ARCH.exe on Windows) and the release's
# SHA256SUMS, and installs the binary only when its SHA-256 matches; a
# binary already in the tool cache is checked against the same SHA256SUMS
# before it is reused. Without PLUMB_VERSION it builds plumb from the
# action's own checkout with go (static, -trimpath).
#
# Sets the step output "path" and adds the binary's directory to
# GITHUB_PATH, so later steps can run plumb.
#
# Environment (set by action.yml): PLUMB_VERSION, PLUMB_DOWNLOAD_URL,
# PLUMB_ACTION_PATH, PLUMB_ACTION_REPOSITORY, PLUMB_ACTION_REF,
# PLUMB_TOOL_CACHE; and the runner's RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP,
# GITHUB_SERVER_URL, GITHUB_OUTPUT, GITHUB_PATH.
set -euo pipefail

fail() {
  # A workflow command, so the reason shows on the run's page.
  echo "::error title=plumb install::$*"
  exit 1
}

: "${RUNNER_TEMP:?RUNNER_TEMP is not set: this script runs as a step of the plumb GitHub Action}"
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set: this script runs as a step of the plumb GitHub Action}"
action_path="${PLUMB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}"
version="${PLUMB_VERSION:-}"

case "${RUNNER_OS:-$(uname -s)}" in
  Linux | linux) os=linux ;;
  macOS | Darwin | darwin) os=darwin ;;
  Windows | windows | MINGW* | MSYS*) os=windows ;;
  *) fail "unsupported runner OS ${RUNNER_OS:-$(uname -s)}: plumb is released for Linux, macOS and Windows" ;;
esac
case "${RUNNER_ARCH:-$(uname -m)}" in
  X64 | x86_64 | amd64) arch=amd64 ;;
  ARM64 | arm64 | aarch64) arch=arm64 ;;
  *) fail "unsupported runner architecture ${RUNNER_ARCH:-$(uname -m)}: plumb is released for amd64 and arm64" ;;
esac
exe=""
if [ "$os" = windows ]; then exe=".exe"; fi

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

download() { # URL FILE
  curl --fail --silent --show-error --location --retry 3 --output "$2" "$1" ||
    fail "download $1 failed"
}

if [ -z "$version" ]; then
  command -v go >/dev/null 2>&1 ||
    fail "no version given and go is not on PATH: set the action's version input to a release, or install Go (actions/setup-go)"
  dir="$RUNNER_TEMP/plumb-bin"
  mkdir -p "$dir"
  ref="${PLUMB_ACTION_REF:-}"
  commit="$(git -C "$action_path" rev-parse HEAD 2>/dev/null || true)"
  echo "Building plumb ${ref:-dev} from $action_path"
  (cd "$action_path" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X main.version=${ref:-dev} -X main.commit=${commit}" \
    -o "$dir/plumb$exe" ./cmd/plumb) || fail "go build of plumb failed"
else
  case "$version" in
    */* | *..* | *" "*) fail "version $version: want a release tag such as v1.2.0" ;;
  esac
  asset="plumb-$os-$arch$exe"
  base="${PLUMB_DOWNLOAD_URL:-}"
  if [ -z "$base" ]; then
    [ -n "${PLUMB_ACTION_REPOSITORY:-}" ] || fail "cannot tell which repository's releases to download from: set the download-url input"
    base="${GITHUB_SERVER_URL:-https://github.com}/$PLUMB_ACTION_REPOSITORY/releases/download/$version"
  fi
  base="${base%/}"
  dir="${PLUMB_TOOL_CACHE:-${RUNNER_TOOL_CACHE:-$RUNNER_TEMP}}/plumb/$version/$os-$arch"
  tmp="$(mktemp -d "$RUNNER_TEMP/plumb-download.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  download "$base/SHA256SUMS" "$tmp/SHA256SUMS"
  # A line is "HEX  NAME" (or "HEX *NAME" in binary mode).
  want="$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/SHA256SUMS")"
  [ -n "$want" ] || fail "SHA256SUMS of $version has no line for $asset"
  if [ -f "$dir/plumb$exe" ] && [ "$(sha256 "$dir/plumb$exe")" = "$want" ]; then
    echo "Using plumb $version from the tool cache ($dir)"
  else
    echo "Downloading $base/$asset"
    download "$base/$asset" "$tmp/$asset"
    got="$(sha256 "$tmp/$asset")"
    [ "$got" = "$want" ] || fail "checksum mismatch for $asset: SHA256SUMS says $want, the download is $got; nothing was installed"
    mkdir -p "$dir"
    mv "$tmp/$asset" "$dir/plumb$exe"
    chmod 0755 "$dir/plumb$exe"
  fi
fi

"$dir/plumb$exe" version
# The multi-line form of GITHUB_OUTPUT, with a delimiter the path cannot contain.
delim="ghadelimiter_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf 'path<<%s\n%s\n%s\n' "$delim" "$dir/plumb$exe" "$delim" >>"$GITHUB_OUTPUT"
if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$dir" >>"$GITHUB_PATH"
fi
