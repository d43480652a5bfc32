#!/usr/bin/env bash
# Prints plumb's performance figures (see bench/README.md):
#  1. parse + diff of a synthetic 100,000-resource state (goal < 2 s, < 1 GiB RSS)
#  2. a live scan of a ~2,000-resource moto estate (goal <= 0.05 API calls per resource)
#  3. the Go micro-benchmarks of the parser and the drift engine
#  ... then intake (SQLite, PostgreSQL with 1 and 2 replicas), policy evaluation,
#  plumb scan against terraform plan -refresh-only (straight and behind a latency
#  proxy) and the store size after a simulated year of hourly scans
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
go build -o "$out/parsediff" ./bench/parsediff
go build -o "$out/motoscan" ./bench/motoscan

echo "== parse + diff, 100,000 resources (3 runs)"
"$out/parsediff" -n "${N:-100000}" -write "$out/big.tfstate"
for i in 1 2 3; do "$out/parsediff" -state "$out/big.tfstate"; echo; done

echo "== live scan of a moto estate"
"$out/motoscan" -scale "${SCALE:-1}"

echo
echo "== Go benchmarks"
go test -run '^$' -bench 'Parse100k|Diff' -benchmem -count "${COUNT:-3}" ./internal/state/ ./internal/drift/ ./internal/scan/

echo
echo "== plan and what-if parsers on 50 MB inputs (MB/s)"
go test -run '^$' -bench 'ReadPlan50MB|Parse50MB' -benchmem -count "${COUNT:-3}" ./internal/tfdrift/ ./internal/whatif/

echo
echo "== plumb serve intake: events durably accepted per second, accept latency (SQLite)"
go build -o "$out/ingest" ./bench/ingest
for b in 1 10; do "$out/ingest" -events "${EVENTS:-20000}" -clients 32 -batch "$b"; done

echo
echo "== plumb serve intake on one PostgreSQL: 1 and 2 replicas (goal >= 1.7x from 1 to 2)"
for r in 1 2; do "$out/ingest" -postgres -replicas "$r" -events "${EVENTS:-20000}" -clients 32; done

echo
echo "== policy evaluation, 1,000 rules x 100,000 resources (evals/s; goal >= 1,000,000 on one core)"
go test -run '^$' -bench 'Evaluate1000x100k$|Builtin100k' -benchtime 1x -benchmem -cpu 1,2 -count "${COUNT:-3}" ./internal/policy/

echo
echo "== plumb codify: 50 unmanaged resources against moto (terraform dominates; goal: plumb's own work < 1 s)"
go build -o "$out/codify" ./bench/codify
"$out/codify" -n "${CODIFY_N:-50}"
go test -run '^$' -bench 'CleanRender50' -benchmem -count "${COUNT:-3}" ./internal/codify/

echo
echo "== plumb scan vs terraform plan -refresh-only, warm, straight to moto and behind a latency proxy"
echo "   (goals: >= 20x wall at 10,000 resources, >= 50x behind 50 ms per call)"
go build -o "$out/plumb" ./cmd/plumb
go build -o "$out/tfscan" ./bench/tfscan
"$out/tfscan" -plumb "$out/plumb" -resources "${TF_RESOURCES:-350}" -runs "${TF_RUNS:-3}"

echo
echo "== store size after a simulated year of hourly scans of a 10,000-resource estate, retention on"
go build -o "$out/storesize" ./bench/storesize
"$out/storesize" -resources 10000 -days "${DAYS:-365}"

echo
echo "== web console: overview and filtered findings pages over 100,000 findings and 1,000,000 events (p50/p95; goal p95 < 100 ms)"
PLUMB_BENCH_FINDINGS="${CONSOLE_FINDINGS:-100000}" PLUMB_BENCH_EVENTS="${CONSOLE_EVENTS:-1000000}" \
  go test -run '^$' -bench ConsolePages -benchtime "${CONSOLE_N:-100}x" -timeout 90m ./internal/console/

echo
echo "== HTML report of a 10,000-resource scan: size and Chromium load time (goal < 5 MB, < 2 s)"
go test -count=1 -run 'TestHTMLLargeReport' -v ./internal/report/ | grep -E 'rendered|loaded|PASS|FAIL'

echo
echo "== scheduled scan of an organisation shared by 1, 2 and 3 plumb serve replicas on PostgreSQL"
echo "   (moto behind a 30-80 ms latency proxy; goal >= 1.7x from 1 to 2 replicas)"
go build -o "$out/replicas" ./bench/replicas
"$out/replicas" -plumb "$out/plumb" -accounts "${ACCOUNTS:-20}"
