# Telemetra. The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
export PATH := $(CURDIR)/bin:$(PATH)

GO_FILES = $(shell find . -name '*.go' -not -path './.cache/*' -not -path '*/node_modules/*')

.PHONY: run test build tools dashboard generate check-generated fmt lint vet unit e2e fuzz bench kafka kafka-stop kafka-cluster kafka-cluster-stop clean

## run: the whole pipeline on embedded defaults (in-process Kafka, producer, ...); flags in ARGS, e.g. ARGS="--fresh --history 24h".
run:
	GO=$(GO) scripts/run.sh $(ARGS)

## test: everything CI runs: generated code and lint checks, unit tests, the real-Kafka suite on one broker and on a three-broker cluster.
test:
	scripts/test.sh

build:
	$(GO) build -o bin/telemetra ./cmd/telemetra

## tools: install pinned code generators (buf, protoc plugins) and test tools (golangci-lint, ...) into bin/.
tools:
	scripts/tools.sh

## dashboard: rebuild the browser dashboard (web/ → gateway/dashboard/dist, committed).
dashboard:
	cd web && npm ci --no-audit --no-fund && npm run build

## generate: regenerate Go and OpenAPI from proto/.
generate: tools
	bin/buf generate

## check-generated: fail when committed generated code is stale, buf lint/format complain.
check-generated:
	scripts/check-generated.sh

fmt:
	gofmt -w $(GO_FILES)

## lint: gofmt, go vet, golangci-lint (.golangci.yml: import rules, errcheck, staticcheck, ...).
lint: vet
	@out=$$(gofmt -l $(GO_FILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@[ -x bin/golangci-lint ] || { echo "bin/golangci-lint is missing: run make tools"; exit 1; }
	bin/golangci-lint run ./...

vet:
	$(GO) vet ./...

## unit: go test ./... (in-process Kafka; PostgreSQL's server binaries or DATABASE_URL, curl, kcat, bin/grpcurl).
unit:
	$(GO) test ./...

## fuzz: run each decoder fuzzer for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	for f in FuzzDecodeChat FuzzDecodeViewer FuzzDecodeTransaction FuzzDecodeStreamMeta; do \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./schemas/ || exit 1; done

## bench: the whole benchmark suite, one summary table (docs/performance.md); BENCH_ARGS go to telemetra bench.
bench:
	scripts/bench.sh $(BENCH_ARGS)

## kafka: start a real Apache Kafka broker (KRaft, single node) on 127.0.0.1:19092.
kafka:
	scripts/kafka.sh start

kafka-stop:
	scripts/kafka.sh stop

## kafka-cluster: start a real 3-node Apache Kafka cluster (KRaft, RF 3, min ISR 2) on 127.0.0.1:19392,19394,19396.
kafka-cluster:
	scripts/kafka-cluster.sh start

## kafka-cluster-stop: stop the cluster that make kafka-cluster started (scripts/kafka-cluster.sh stop).
kafka-cluster-stop:
	scripts/kafka-cluster.sh stop

clean:
	rm -rf bin .cache
