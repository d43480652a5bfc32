# plumb developer tasks. `make test` is what CI runs (through .ci/run).
GO        ?= go
BIN       ?= bin/plumb
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
# Image file times and its created label: the commit's time, so the same
# commit gives the same image digest.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
DIST    ?= dist

.PHONY: all build test lint fmt demo bench fuzz clean release image

all: lint test build

build:
	$(GO) build -o $(BIN) ./cmd/plumb

test:
	$(GO) test -race -count=1 ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

fmt:
	gofmt -w .

# Starts moto on 127.0.0.1, applies a small Terraform estate with the real
# AWS provider, changes three things out of band and runs plumb scan.
demo: build
	$(GO) run ./demo -plumb $(BIN)

# Prints the parse+diff and moto scan figures (see bench/README.md).
bench:
	./bench/run.sh

# Runs every fuzz target for a short while; seeds live in testdata/fuzz.
fuzz:
	$(GO) test -run=^$$ -fuzz=FuzzParse$$ -fuzztime=30s ./internal/state/
	$(GO) test -run=^$$ -fuzz=FuzzParseIgnore -fuzztime=30s ./internal/drift/
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
