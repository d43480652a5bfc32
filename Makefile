# plumb developer tasks. A fresh machine needs three commands:
#
#   make setup   install (or check and explain) everything below needs
#   make demo    moto + real terraform apply + plumb scan, three findings
#   make test    the whole test suite, as CI runs it (.ci/run)
SHELL       := /bin/bash
GO          ?= go
BIN         ?= bin/plumb
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
# Under CI=true a test whose peer (moto, terraform, PostgreSQL, azurite,
# alertmanager) is missing fails instead of skipping: after make setup
# nothing may be skipped silently. CI=false make test skips instead.
CI          ?= true
export CI

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
# Image file times and its created label: the commit's time, so the same
# commit gives the same image digest.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
DIST    ?= dist

.PHONY: all setup build test lint fmt docs demo bench fuzz clean release image

all: lint test build

# Idempotent: a second run only checks (seconds). See .ci/setup.sh.
setup:
	bash .ci/setup.sh

build:
	$(GO) build -o $(BIN) ./cmd/plumb

# .ci/env.sh puts what make setup installed on PATH (GOPATH/bin, the
# PostgreSQL tools of Debian's package, a moto venv).
test:
	. .ci/env.sh && $(GO) test -race -count=1 -timeout 60m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || echo .)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

fmt:
	gofmt -w .

# Regenerates docs/cli.md (the CLI reference, from the command tree) and
# docs/plumb.schema.json (from the config types). Tests fail when either
# is stale.
docs:
	$(GO) run ./cmd/plumb docs gen --out docs/cli.md
	$(GO) test ./internal/config -run '^TestSchemaUpToDate$$' -count=1 -update-schema

# Starts moto on 127.0.0.1, applies a small Terraform estate with the real
# AWS provider, changes three things out of band and runs plumb scan.
demo: build
	. .ci/env.sh && $(GO) run ./demo -plumb $(BIN)

# Prints the parse+diff and moto scan figures (see bench/README.md).
bench:
	./bench/run.sh

# Runs every fuzz target for a short while; seeds live in testdata/fuzz.
fuzz:
	$(GO) test -run=^$$ -fuzz=FuzzParse$$ -fuzztime=30s ./internal/state/
	$(GO) test -run=^$$ -fuzz=FuzzParseIgnore -fuzztime=30s ./internal/drift/
	$(GO) test -run=^$$ -fuzz=FuzzReadReport -fuzztime=30s ./internal/codify/
	$(GO) test -run=^$$ -fuzz=FuzzParseAddress -fuzztime=30s ./internal/codify/
	$(GO) test -run=^$$ -fuzz=FuzzApplyEdits -fuzztime=30s ./internal/codify/
	$(GO) test -run=^$$ -fuzz=FuzzParse$$ -fuzztime=30s ./internal/config/
	$(GO) test -run=^$$ -fuzz=FuzzSplitArgs -fuzztime=30s ./internal/ghaction/
	$(GO) test -run=^$$ -fuzz=FuzzParseChecksums -fuzztime=30s ./internal/release/

# Static binaries for linux/darwin/windows on amd64/arm64 with VERSION and
# COMMIT stamped in, a CycloneDX SBOM per binary and SHA256SUMS, in DIST
# (docs/install.md).
release:
	$(GO) run ./cmd/plumb-release -out $(DIST) -version $(VERSION) -commit $(COMMIT)

# The container image (linux/amd64 and linux/arm64) as OCI archives in
# DIST, built from the release binaries without a container daemon; then
# SHA256SUMS again, over the images too.
image: release
	for arch in amd64 arm64; do \
	  SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./cmd/plumb-image -binary $(DIST)/plumb-linux-$$arch -arch $$arch \
	    -version $(VERSION) -revision $(COMMIT) -out $(DIST)/plumb-image-linux-$$arch.oci.tar || exit 1; \
	done
	$(GO) run ./cmd/plumb-release -checksums $(DIST)

clean:
	rm -rf bin $(DIST)
