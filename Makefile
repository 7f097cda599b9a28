# Polity — run `make` for the list of targets.
GO ?= go
PKGS := ./...

.DEFAULT_GOAL := help

.PHONY: help run test verify generate bench fuzz build clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: ## run the whole federation in one process (API on 127.0.0.1:8080, data in ./data)
	$(GO) run ./cmd/polity devnet

build: ## build bin/polity
	$(GO) build -o bin/polity ./cmd/polity

test: ## run every test (Go alone; a few minutes on 2 cores)
	$(GO) test -count=1 -timeout 20m $(PKGS)

verify: ## gofmt, go vet, staticcheck, generated code up to date
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)
	$(GO) generate ./openapi/...
	@git diff --exit-code -- openapi/ || (echo "generated code is stale: commit the output of 'go generate ./openapi/...'"; exit 1)

generate: ## regenerate the OpenAPI server code
	$(GO) generate ./openapi/...

bench: ## run the Go benchmarks (see docs/benchmarks.md)
	$(GO) test -run='^$$' -bench=. -benchmem $(PKGS)

fuzz: ## fuzz every decoder for FUZZTIME each (default 20s)
	./scripts/fuzz.sh $${FUZZTIME:-20s}

clean: ## remove build output and the devnet's data
	rm -rf bin data

.PHONY: e2e e2e-raft
e2e: ## run the process-level fault-injection suite (docs/faults.md; a few minutes; not in make test)
	$(GO) test -tags e2e -count=1 -timeout 20m ./e2e/...

e2e-raft: ## the same suite with the load chain ordered by Raft (crash faults; WAL damage is BFT-only)
	E2E_CFT=1 $(GO) test -tags e2e -count=1 -timeout 20m ./e2e/...

.PHONY: image compose-up compose-down
image: ## build the polity:dev image (FROM scratch, static binary; needs Docker)
	CGO_ENABLED=0 $(GO) build -trimpath -o deploy/docker/polity-linux ./cmd/polity
	docker build -t polity:dev deploy/docker

compose-up: image ## start a 4-node network in containers (deploy/compose; API on 127.0.0.1:26601)
	test -d deploy/compose/testnet || $(GO) run ./cmd/polity init --validators 4 --hosts node1,node2,node3,node4 --base-port 26600 --out deploy/compose/testnet
	chmod -R a+rwX deploy/compose/testnet
	cd deploy/compose && docker-compose up -d

compose-down: ## stop the containers (homes stay in deploy/compose/testnet)
	cd deploy/compose && docker-compose down
