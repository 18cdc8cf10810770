# orderlane — run `make help` for the targets.
GO       ?= go
BIN      ?= bin/orderlane
CONFIG   ?= dev/orderlane.dev.yaml
GOLANGCI ?= github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

.DEFAULT_GOAL := help
.PHONY: help run build test test-short powerloss lint bench loadtest vuln fuzz simulate simulate-sandbox chaos clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the binary into bin/
	$(GO) build -o $(BIN) ./cmd/orderlane

run: build ## serve on the embedded default with the development config (test secrets)
	$(BIN) serve --config $(CONFIG)

simulate: build ## send signed pushes for 1000 orders to the server `make run` started, and check them
	$(BIN) simulate --config $(CONFIG) --orders 1000

simulate-sandbox: build ## deliver a 300-order sandbox sale, as each marketplace pushes, to the `make run` server, and check it
	$(BIN) simulate --sandbox --config $(CONFIG) --orders 300

test: ## run every test with the race detector (service-backed tests run when their URL variables are set)
	$(GO) test -race -count=1 ./...

test-short: ## quick tests only (no end-to-end process tests)
	$(GO) test -short -count=1 ./...

powerloss: ## cut the power CUTS times (default 12) under a push storm on a FUSE disk that forgets unsynced writes; needs /dev/fuse and root
	$(GO) test -count=1 -v -run '^TestPowerLoss$$' -timeout 30m ./powerloss -cuts=$${CUTS:-12} -orders=$${ORDERS:-1500}

chaos: ## SIGKILL the real binary KILLS times (default 6) under a push storm, restart it, check every invariant (default and strict mode)
	$(GO) test -count=1 -v -run '^TestChaos$$' -timeout 20m ./chaos -chaos.kills=$${KILLS:-6}
	$(GO) test -count=1 -v -run '^TestChaos$$' -timeout 20m ./chaos -chaos.kills=$${KILLS:-6} -chaos.strict

lint: ## gofmt, go vet and golangci-lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(GOLANGCI) run ./...

bench: ## Go benchmarks of the hot paths (verify+parse, append, apply)
	$(GO) test -run='^$$' -bench=. -benchmem ./...

loadtest: ## the load table of docs/benchmarks.md: bare HTTP sink vs orderlane closed loop, open loop, 60 s sustained (ORDERS, RATES, WIDE, SUSTAIN, FSYNC)
	scripts/loadtest

vuln: ## govulncheck against an offline copy of the Go vulnerability database (from the module proxy)
	scripts/vulncheck

fuzz: ## run each fuzz target for FUZZTIME (default 20s)
	@for pkg in shopee lazada tiktok; do for f in FuzzParse FuzzVerify; do \
		$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$${FUZZTIME:-20s} ./marketplace/$$pkg || exit 1; done; done

clean: ## remove build output and the development data dir
	rm -rf bin data/dev
