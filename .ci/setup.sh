#!/usr/bin/env bash
# `make setup`: installs what plumb's demo and tests need, and for what it
# cannot install from here, checks it and says how to get it. Safe to run
# again: every step first looks whether its tool is already in place (a
# second run takes seconds). .ci/run calls it before lint and tests.
#
#   go 1.26, a C compiler (go test -race)      checked; gcc from apt if root
#   terraform 1.11                             checked (not downloadable here)
#   AWS provider 5.100.0 filesystem mirror     found, or made with
#                                              `terraform providers mirror`
#                                              when the registry answers
#   moto_server (moto[server] 5.2)             checked, else pip into a venv
#   go modules, staticcheck                    go mod download, go install
#   local/random Terraform providers           .ci/install-providers.sh
#   azurite (Azure Storage Queue emulator)     .ci/install-azurite.sh (npm)
#   alertmanager                               .ci/install-alertmanager.sh
#   PostgreSQL initdb/pg_ctl                   apt-get install postgresql
#   chromium (for the console, later)          only with PLUMB_SETUP_CHROMIUM=1
#
# What it builds outside GOPATH goes to ~/.cache/plumb (azurite, a moto
# venv, a provider mirror), where the tests look for it.
#
# Environment:
#   PLUMB_TF_MIRROR        an existing Terraform filesystem mirror to use
#   PLUMB_SETUP_CHROMIUM=1 also install Debian's chromium package
#
# Exit status 0 when everything is in place, 1 with a list of what is
# missing (each with how to get it) otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

# shellcheck source=.ci/env.sh
. .ci/env.sh
cache="$HOME/.cache/plumb"
missing=()

step() { printf '\n--- %s\n' "$1"; }
ok() { printf 'setup: %s\n' "$1"; }
need() {
  # need NAME WHAT-TO-DO: records a missing piece and says how to get it.
  printf 'setup: MISSING %s: %s\n' "$1" "$2" >&2
  missing+=("$1")
}

apt_updated=""
# apt_install PKG...: installs Debian packages when this user may (root,
# or password-less sudo); returns 1 otherwise.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    sudo -n true 2>/dev/null || return 1
    sudo="sudo -n"
  fi
  if [ -z "$apt_updated" ]; then
    $sudo apt-get update -qq || return 1
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# version_ge A B: A >= B for dotted versions.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

step "go"
want_go=$(awk '$1 == "go" { print $2; exit }' go.mod)
if ! command -v go >/dev/null 2>&1; then
  need go "install Go $want_go or newer from https://go.dev/dl/ and put it on PATH"
  printf '\nsetup: cannot go on without go\n' >&2
  exit 1
fi
have_go=$(go env GOVERSION | sed 's/^go//')
if version_ge "$have_go" "$want_go"; then
  ok "go $have_go (go.mod wants $want_go)"
else
  need go "go $have_go is older than go.mod's $want_go: install Go $want_go or newer from https://go.dev/dl/"
fi

step "C compiler (go test -race needs cgo)"
if command -v "$(go env CC)" >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1; then
  ok "C compiler $(command -v "$(go env CC)" || command -v gcc)"
elif apt_install gcc libc6-dev; then
  ok "gcc installed from Debian"
else
  need "C compiler" "install gcc (Debian: apt-get install gcc libc6-dev); go test -race needs it"
fi

step "terraform"
if command -v terraform >/dev/null 2>&1; then
  tfv=$(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p')
  if version_ge "${tfv:-0}" 1.11; then
    ok "terraform $tfv at $(command -v terraform)"
  else
    need terraform "terraform ${tfv:-?} is older than 1.11: install 1.11 from https://developer.hashicorp.com/terraform/install"
  fi
else
  need terraform "install terraform 1.11 from https://developer.hashicorp.com/terraform/install and put it on PATH"
fi

step "AWS provider 5.100.0 in a Terraform filesystem mirror"
# The same places internal/testenv.FindProviderMirror looks first.
aws_version=5.100.0
mirror=""
for root in "${PLUMB_TF_MIRROR:-}" /opt/tf-plugins /usr/share/terraform/plugins /usr/local/share/terraform/plugins "$cache/tf-plugins"; do
  [ -n "$root" ] || continue
  if ls "$root/registry.terraform.io/hashicorp/aws/" 2>/dev/null | grep -q "$aws_version"; then
    mirror=$root
    break
  fi
done
if [ -z "$mirror" ] && command -v terraform >/dev/null 2>&1; then
  echo "setup: no mirror found; trying terraform providers mirror into $cache/tf-plugins (needs registry.terraform.io)"
  tmp=$(mktemp -d)
  printf 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "%s" }\n  }\n}\n' "$aws_version" >"$tmp/main.tf"
  if (cd "$tmp" && TF_CLI_CONFIG_FILE=/dev/null timeout 600 terraform providers mirror "$cache/tf-plugins" >/dev/null 2>&1); then
    mirror="$cache/tf-plugins"
  fi
  rm -rf "$tmp"
fi
if [ -n "$mirror" ]; then
  ok "AWS provider $aws_version in $mirror"
  if [ "$mirror" != /opt/tf-plugins ] && [ -z "${PLUMB_TF_MIRROR:-}" ]; then
    echo "setup: (found automatically by the tests and the demo; PLUMB_TF_MIRROR=$mirror names it explicitly)"
  fi
else
  need "AWS provider mirror" "no Terraform filesystem mirror with hashicorp/aws $aws_version, and registry.terraform.io did not answer. On a machine that reaches the registry run 'terraform providers mirror DIR' in a directory whose .tf requires hashicorp/aws $aws_version, copy DIR here and set PLUMB_TF_MIRROR=DIR"
fi

step "moto_server (AWS emulator)"
if moto_server --help >/dev/null 2>&1; then
  ok "moto_server at $(command -v moto_server)"
else
  echo "setup: moto_server not on PATH; trying pip install 'moto[server]==5.2.1' into $cache/moto"
  if command -v python3 >/dev/null 2>&1 &&
    python3 -m venv "$cache/moto" >/dev/null 2>&1 &&
    "$cache/moto/bin/pip" install --quiet --retries 1 --timeout 20 'moto[server]==5.2.1' >/dev/null 2>&1 &&
    "$cache/moto/bin/moto_server" --help >/dev/null 2>&1; then
    . .ci/env.sh
    ok "moto_server installed in $cache/moto/bin (put on PATH by .ci/env.sh, which make test uses)"
  else
    need moto_server "install moto[server] 5.2 (pip install 'moto[server]==5.2.1', Python 3.9+) so that moto_server is on PATH; PyPI could not be reached from here. plumb's development machines have it preinstalled"
  fi
fi

step "go modules"
if go mod download; then
  ok "go modules downloaded ($(go env GOMODCACHE))"
else
  need "go modules" "go mod download failed: check GOPROXY ($(go env GOPROXY))"
fi

step "staticcheck"
sc_version=v0.8.2
gobin="$(go env GOPATH)"
gobin="${gobin%%:*}/bin"
if go version -m "$gobin/staticcheck" 2>/dev/null | awk -v v="$sc_version" '$1 == "mod" && $2 == "honnef.co/go/tools" && $3 == v { f = 1 } END { exit !f }'; then
  ok "staticcheck $sc_version already in $gobin"
elif go install "honnef.co/go/tools/cmd/staticcheck@$sc_version"; then
  ok "staticcheck $sc_version installed in $gobin"
else
  need staticcheck "go install honnef.co/go/tools/cmd/staticcheck@$sc_version failed"
fi

step "terraform providers built from source (local, random)"
bash .ci/install-providers.sh || need "local/random providers" "bash .ci/install-providers.sh failed (see above)"

step "azurite (Azure Storage Queue emulator, from npm)"
if ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm || true
fi
if command -v npm >/dev/null 2>&1; then
  bash .ci/install-azurite.sh || need azurite "bash .ci/install-azurite.sh failed (see above)"
else
  need azurite "npm is required (Node.js 18 or newer; Debian: apt-get install nodejs npm), then run make setup again"
fi

step "alertmanager (built from source with go install)"
bash .ci/install-alertmanager.sh || need alertmanager "bash .ci/install-alertmanager.sh failed (see above)"

step "PostgreSQL tools (initdb, pg_ctl; the tests start their own servers)"
if ! command -v initdb >/dev/null 2>&1 || ! command -v pg_ctl >/dev/null 2>&1; then
  echo "setup: initdb/pg_ctl missing: installing postgresql from Debian"
  if apt_install postgresql; then
    . .ci/env.sh
  fi
fi
if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
  ok "$(initdb --version) at $(command -v initdb)"
else
  need postgresql "install PostgreSQL's server tools so initdb and pg_ctl run (Debian: apt-get install postgresql; they live in /usr/lib/postgresql/N/bin, which .ci/env.sh puts on PATH)"
fi

step "chromium (the web console's browser tests, once the console lands)"
# The console is not built yet, so nothing needs a browser today.
# Installing Debian's chromium costs about 75 MB of downloads; it is
# opt-in until the console's tests need it, then this becomes the default.
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  ok "chromium at $(command -v chromium || command -v chromium-browser)"
elif [ "${PLUMB_SETUP_CHROMIUM:-}" = 1 ]; then
  if apt_install chromium; then
    ok "chromium installed from Debian"
  else
    need chromium "install Debian's chromium package (apt-get install chromium)"
  fi
else
  ok "chromium not installed and not needed yet (PLUMB_SETUP_CHROMIUM=1 make setup installs it)"
fi

took=$(($(date +%s) - start))
echo
if [ ${#missing[@]} -gt 0 ]; then
  printf 'setup: %d thing(s) missing after %ss: %s\n' "${#missing[@]}" "$took" "${missing[*]}" >&2
  printf 'setup: see the MISSING lines above for how to get each, then run make setup again\n' >&2
  exit 1
fi
printf 'setup: everything the demo and the tests need is in place (%ss). Next: make demo, make test\n' "$took"
