# The harness: fake CleverTap + fake Piano (simulator), the relay, scenarios and their suites.
GO      ?= go
GINKGO  := $(GO) tool ginkgo
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 30s
# PROCS: Ginkgo processes; the e2e specs mostly wait on I/O, so more than the cores pays off
PROCS   ?= 6

.PHONY: all build images test unit suites e2e lint fuzz bench run clean

all: lint test

## build: static binaries in bin/
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/simulator ./cmd/simulator
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/relay ./cmd/relay

## images: the ctharness:dev image (both binaries, FROM scratch, legacy builder, no registry needed)
images: build
	DOCKER_BUILDKIT=0 docker build -q -t ctharness:dev .

## test: vet, then every unit test, fuzz seed corpus and Ginkgo suite (race detector on)
test: lint
	$(GO) test -race -count=1 ./...

## suites: only the Ginkgo suites, in parallel, with a JUnit report in reports/
suites:
	mkdir -p reports
	$(GINKGO) -r --procs=$(PROCS) --randomize-all --keep-going --junit-report=junit.xml --output-dir=reports ./suites

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## fuzz: run each fuzz target for FUZZTIME (default 30s): the CleverTap validator, the vendor parsers, the
## Purchasely signature check
FUZZ_TARGETS := simulator/clevertap:FuzzUpload relay/revenuecat:FuzzMap relay/purchasely:FuzzMap \
	relay/purchasely:FuzzVerifySignature relay/appsflyer:FuzzMap
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$pkg $$fn ($(FUZZTIME))"; \
	$(GO) test ./$$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) || exit 1; done

## bench: the upload benchmark and its baselines, measured in one run, with the ratios
bench:
	$(GO) test ./simulator/clevertap -run '^$$' -bench 'BenchmarkUpload' -benchtime 3s | tee reports-bench.txt | \
	awk '/records\/s/ { for (i = 1; i <= NF; i++) if ($$(i+1) == "records/s") rate[$$1] = $$i } \
	END { fake = rate["BenchmarkUpload/fake-2"]; if (fake == "") for (k in rate) if (k ~ /fake/) fake = rate[k]; \
	      printf "\n%-40s %14s %8s\n", "upload, 1000-record bodies", "records/s", "ratio"; \
	      for (k in rate) printf "%-40s %14.0f %8.2f\n", k, rate[k], fake / rate[k] }'
	@rm -f reports-bench.txt

## run: fake CleverTap + Piano (8081) and the relay (8080) in one process; plays the built-in scenarios, keeps serving
run:
	$(GO) run ./cmd/simulator up

## e2e: only the e2e scenario suite, in parallel (LABELS='revenuecat && trial' for a slice)
e2e:
	$(GINKGO) --procs=$(PROCS) --label-filter='$(LABELS)' ./suites/e2e

clean:
	rm -rf bin reports
