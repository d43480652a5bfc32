# shellcheck shell=bash
# Sourced by .ci/setup.sh, .ci/run and the Makefile's test targets: puts
# the tools `make setup` installs on PATH, so the tests find them however
# the shell was started. Idempotent; changes nothing but PATH.
#
#   $(go env GOPATH)/bin        staticcheck, alertmanager, the local/random
#                               Terraform providers (go install)
#   ~/.cache/plumb/moto/bin     moto_server, when setup installed it in a venv
#   /usr/lib/postgresql/N/bin   initdb and pg_ctl from Debian's postgresql,
#                               which does not put them on PATH

plumb_path_prepend() {
  case ":$PATH:" in
    *":$1:"*) ;;
    *) [ -d "$1" ] && PATH="$1:$PATH" ;;
  esac
  return 0
}

if command -v go >/dev/null 2>&1; then
  plumb_gopath="$(go env GOPATH)"
  plumb_path_prepend "${plumb_gopath%%:*}/bin"
fi
plumb_path_prepend "$HOME/.cache/plumb/moto/bin"
if ! command -v initdb >/dev/null 2>&1; then
  for plumb_pg in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1); do
    plumb_path_prepend "$plumb_pg"
  done
fi
export PATH
unset plumb_gopath plumb_pg
