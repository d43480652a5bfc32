# plumb developer tasks. `make test` is what CI runs (through .ci/run).
GO        ?= go
BIN       ?= bin/plumb
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: all build test lint fmt demo bench fuzz clean

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
	$(GO) test -run=^$$ -fuzz=FuzzReadReport -fuzztime=30s ./internal/codify/
	$(GO) test -run=^$$ -fuzz=FuzzParseAddress -fuzztime=30s ./internal/codify/
	$(GO) test -run=^$$ -fuzz=FuzzApplyEdits -fuzztime=30s ./internal/codify/

clean:
	rm -rf bin
