#!/usr/bin/env bash
# Simulates a newcomer's fresh machine on this one and times the README's
# commands: a clean clone of this repository's HEAD, with a new HOME,
# GOPATH, GOMODCACHE and GOCACHE (so no Go modules, no build cache, no
# staticcheck, alertmanager or local/random providers, no azurite, no npm
# cache, no go env file) and PATH without the old GOPATH/bin. What a
# machine provides below the user stays: go, terraform, a provider mirror
# in /opt/tf-plugins, moto_server, PostgreSQL, node/npm.
#
#   bash .ci/fresh-machine.sh [WORKDIR]     (default: a new temp dir)
#
# Prints the time of make setup (first run), make setup (second run, which
# must only check) and make test.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
base="${1:-$(mktemp -d)}"
mkdir -p "$base/home"
git clone -q "$repo" "$base/plumb" || exit 1
export HOME="$base/home" GOPATH="$base/gopath" GOMODCACHE="$base/gopath/pkg/mod" GOCACHE="$base/gocache"
old_gobin="$(go env GOPATH 2>/dev/null)/bin"
PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$old_gobin" | paste -sd: -)"
export PATH
unset CI GOFLAGS
cd "$base/plumb" || exit 1
echo "fresh-machine: clone of $(git rev-parse --short HEAD) in $base/plumb, HOME=$HOME"
t0=$(date +%s)
make setup
rc1=$?
t1=$(date +%s)
make setup >/dev/null
rc2=$?
t2=$(date +%s)
make test
rc3=$?
t3=$(date +%s)
printf '\nfresh-machine: make setup %ss (exit %d), again %ss (exit %d), make test %ss (exit %d), total %ss\n' \
  $((t1 - t0)) $rc1 $((t2 - t1)) $rc2 $((t3 - t2)) $rc3 $((t3 - t0))
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ $rc3 -eq 0 ]
