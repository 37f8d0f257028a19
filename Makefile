# Chronik build, test and packaging targets. `make help` lists them.

GO       ?= go
BIN      := bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 30s
IMAGE    ?= chronik:dev

.PHONY: all help build run test vet e2e fuzz bench docker clean

all: build

help:
	@echo "make build   static binaries of ./cmd/... into ./$(BIN)/"
	@echo "make run     build, then run a standalone broker (data in ./data, Kafka on :9092)"
	@echo "make test    go vet, race-enabled unit tests, then the e2e suite"
	@echo "make e2e     the end-to-end suite in ./e2e (build tag e2e)"
	@echo "make fuzz    every Fuzz target for FUZZTIME=$(FUZZTIME) each"
	@echo "make bench   ./$(BIN)/chronik bench (BENCH_ARGS=...)"
	@echo "make docker  the $(IMAGE) image (scratch + static chronik-server)"
	@echo "make clean   remove ./$(BIN) and test artifacts"

# Static binaries of every command under ./cmd that has Go files (chronik-server, chronik).
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

run: build
	./$(BIN)/chronik-server standalone

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race -timeout 20m ./...
	$(MAKE) e2e

e2e:
	@if [ -d e2e ]; then \
		echo "$(GO) test -count=1 -timeout 20m -tags e2e ./e2e/..."; \
		$(GO) test -count=1 -timeout 20m -tags e2e ./e2e/...; \
	else \
		echo "e2e: no ./e2e directory yet, skipping"; \
	fi

# Runs each `func FuzzXxx` of every *_test.go for FUZZTIME, one at a time
# (go test -fuzz takes one package and one target per run).
fuzz:
	@targets=$$(grep -rE '^func Fuzz[A-Za-z0-9_]*\(' --include='*_test.go' . \
		| sed -E 's|^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*$$|\1 \2|' | sort -u); \
	if [ -z "$$targets" ]; then echo "fuzz: no Fuzz targets found"; exit 0; fi; \
	echo "$$targets" | while read -r dir name; do \
		echo "== fuzz $$dir $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$dir" || exit 1; \
	done

bench: build
	./$(BIN)/chronik bench $(BENCH_ARGS)

# Fault injection (kill, pause, restart one node at a time) against a 3-node cluster of
# ./$(BIN)/chronik-server; fails on lost, duplicated or reordered acknowledged writes or a
# fault unavailable for more than 3 s. VERIFY_ARGS=... adds flags (e.g. --seed N).
.PHONY: verify
verify: build
	./$(BIN)/chronik verify --duration 120s $(VERIFY_ARGS)

# No Go image can be pulled, so the image copies the static binary built here.
docker: build
	docker build -t $(IMAGE) .

clean:
	rm -rf $(BIN)
	find . -name '*.test' -type f -not -path './.git/*' -delete
	rm -f *.out *.prof
