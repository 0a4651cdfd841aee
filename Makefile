# osiris — build, test, demo, bench. DuckDB's Arrow interface needs the
# duckdb_arrow build tag; every target here sets it.

GO       ?= go
TAGS     := duckdb_arrow
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN      := bin/osiris
FUZZTIME ?= 15s

.PHONY: all build test test-short fuzz demo bench lint clean

all: build

build:
	$(GO) build -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/osiris

# The whole suite (race detector on) against the real MariaDB and PostgreSQL
# (see README), then short fuzz runs of the pipeline parser + validator and
# of the remote protocol's frame decoder.
test: lint
	$(GO) test -tags $(TAGS) -race -count=1 -timeout 20m ./...
	$(MAKE) fuzz

test-short:
	$(GO) test -tags $(TAGS) -short ./...

fuzz:
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./pkg/compile
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz '^FuzzDecodeFrame$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./pkg/remote/wire
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz '^FuzzWriter$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/termsafe

# Builds osiris, scaffolds a workspace in a temp dir and runs its offline
# pipeline (no database needed).
demo: build
	@set -e; dir="$${DEMO_DIR:-$$(mktemp -d /tmp/osiris-demo.XXXXXX)}"; \
	  echo "== osiris init $$dir"; ./$(BIN) init "$$dir" --force; \
	  echo "== osiris validate"; ./$(BIN) -C "$$dir" validate; \
	  echo "== osiris compile"; ./$(BIN) -C "$$dir" compile pipelines/movies_offline.yaml; \
	  echo "== osiris run"; ./$(BIN) -C "$$dir" run pipelines/movies_offline.yaml; \
	  echo "== demo workspace: $$dir (DEMO_DIR=... to choose it)"

# Benchmarks W1–W8 of spec 07 against their baselines (BENCH_ROWS, default 2,000,000).
bench: build
	$(GO) run -tags $(TAGS) ./bench/harness -osiris $(BIN)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags $(TAGS) ./...

clean:
	rm -rf bin
