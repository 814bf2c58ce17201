# Ferry's build. `make test` is what CI (.ci/run) runs.
GO      ?= go
BIN     := bin
PLUGINS := $(patsubst plugins/%/,%,$(dir $(wildcard plugins/*/main.go)))
TOOLS   := $(shell $(GO) env GOPATH)/bin

.PHONY: build test test-kafka fuzz bench vet fmt-check run proto tools clean

build:
	$(GO) build -o $(BIN)/ferry ./host/cmd/ferry
	@for p in $(PLUGINS); do echo "$(GO) build -o $(BIN)/plugins/$$p ./plugins/$$p"; $(GO) build -o $(BIN)/plugins/$$p ./plugins/$$p || exit 1; done

# The repository holds three modules: the root (host, plugins, tests), the
# SDK that plugin authors import (sdk/go), and the generated protocol code
# (proto/gen), so a plugin's go.sum never carries the host's dependencies.
MODULES := . sdk/go proto/gen

vet:
	@for m in $(MODULES); do echo "(cd $$m && $(GO) vet ./...)"; (cd $$m && $(GO) vet ./...) || exit 1; done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The whole suite, race detector on (in the worker and plugin binaries the
# end-to-end tests build and start, too); FERRY_TEST_BOOTSTRAP=host:port runs them on that broker
# instead of the embedded one.
test: fmt-check vet
	cd sdk/go && $(GO) test -race -count=1 ./...
	FERRY_TEST_RACE=1 $(GO) test -race -count=1 -timeout 20m ./...

# Every Go fuzz target of the root module (func FuzzXxx in a _test.go file) for FUZZTIME
# each: the .properties and JSON connector-file parsers, the worker config
# and the REST handlers. A failure leaves its input in the package's
# testdata/fuzz, to commit as a regression seed.
FUZZTIME ?= 15s
fuzz:
	@for f in $$(grep -rl --include='*_test.go' '^func Fuzz' host plugins internal); do \
		pkg=./$$(dirname $$f); \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "go test -run '^$$' -fuzz '^$$t$$' -fuzztime $(FUZZTIME) $$pkg"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# The end-to-end suite (the migration from Apache Kafka Connect included:
# its jars come from Maven Central too), and host/kafka's and host/store's
# tests of the internal topics, against Apache Kafka (KRaft), fetched from
# Maven Central and started by scripts/kafka; the broker is stopped
# afterwards whether the tests pass or not.
KAFKA_PORT ?= $(or $(FERRY_KAFKA_PORT),9092)
test-kafka:
	@connect=$$(scripts/kafka connect-lib) || exit 1; \
	FERRY_KAFKA_PORT=$(KAFKA_PORT) scripts/kafka start || exit 1; \
	FERRY_KAFKA_PORT=$(KAFKA_PORT) FERRY_TEST_BOOTSTRAP=127.0.0.1:$(KAFKA_PORT) FERRY_TEST_RACE=1 FERRY_TEST_CONNECT_LIB="$$connect" \
		$(GO) test -race -count=1 -timeout 20m ./test/e2e/... ./host/kafka/... ./host/store/...; \
	rc=$$?; FERRY_KAFKA_PORT=$(KAFKA_PORT) scripts/kafka stop; exit $$rc

# Benchmarks: the ceiling (raw librdkafka), the source and sink pipelines
# and their bounds, the plugin boundary, and file → Kafka → file through
# Ferry and through Apache Kafka Connect (fetched from Maven Central), side
# by side on one broker; writes docs/benchmarks.md. BENCH_BROKER=embedded
# uses the embedded broker instead of Apache Kafka; BENCH_ARGS passes flags
# (e.g. BENCH_ARGS="-n 2000000 -runs 5").
BENCH_BROKER ?= kafka
bench: build
	@connect=$$(scripts/kafka connect-lib) || exit 1; \
	if [ "$(BENCH_BROKER)" = kafka ]; then \
		FERRY_KAFKA_PORT=$(KAFKA_PORT) scripts/kafka start || exit 1; \
		$(GO) run ./scripts/bench -connect "$$connect" -bootstrap 127.0.0.1:$(KAFKA_PORT) $(BENCH_ARGS); \
		rc=$$?; FERRY_KAFKA_PORT=$(KAFKA_PORT) scripts/kafka stop; exit $$rc; \
	else \
		$(GO) run ./scripts/bench -connect "$$connect" $(BENCH_ARGS); \
	fi

# Demo: a file source -> Kafka -> file sink pipeline on the embedded broker.
run: build
	scripts/demo

# Regenerate proto/gen (needs `make tools`).
proto:
	PATH="$(TOOLS):$$PATH" buf lint
	PATH="$(TOOLS):$$PATH" buf generate

tools:
	$(GO) install github.com/bufbuild/buf/cmd/buf@v1.75.0
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	$(GO) install github.com/planetscale/vtprotobuf/cmd/protoc-gen-go-vtproto@v0.6.1-0.20240319094008-0393e58bdf10

clean:
	rm -rf $(BIN) data
