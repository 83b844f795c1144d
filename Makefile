# The harness: fake CleverTap + fake Piano (simulator), the relay, scenarios and their suites.
GO      ?= go
GINKGO  := $(GO) tool ginkgo
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 30s
# PROCS: Ginkgo processes; the e2e specs mostly wait on I/O, so more than the cores pays off
PROCS   ?= 6

.PHONY: all build images images-postgres release test unit suites e2e lint fuzz bench run screenshots clean

all: lint test

## build: static binaries in bin/ (-trimpath as make release and the tests' builds: they share compiled packages)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/simulator ./cmd/simulator
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/relay ./cmd/relay

## images: the ctharness:dev image (both binaries, FROM scratch, legacy builder, no registry needed)
images: build
	DOCKER_BUILDKIT=0 docker build -q -t ctharness:dev .

## images-postgres: ctharness-postgres:dev and ctharness-lb:dev, which docker-compose.yml's "postgres" profile adds
## (PostgreSQL and HAProxy FROM scratch, from Debian's packages on this machine: apt-get install postgresql haproxy)
images-postgres:
	scripts/debian-images

# MODULES: the nested Go modules, tested with the main one: the containers module (testcontainers-go, kept out of
# the main module's graph) and the Go example service (a user's module)
MODULES := containers examples/go-service

## release: versioned archives of both binaries for linux and darwin on amd64 and arm64 in dist/, checksums.txt,
## and the image $(IMAGE):$(VERSION) with OCI labels (VERSION=v1.2.3; PLATFORMS="linux/amd64" for one)
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
DIST      ?= dist
IMAGE     ?= ctharness
release:
	VERSION=$(VERSION) PLATFORMS="$(PLATFORMS)" DIST=$(DIST) IMAGE=$(IMAGE) GO=$(GO) scripts/release

## test: vet, then every unit test, fuzz seed corpus and Ginkgo suite, in every module; three groups at once, each
## group's output printed whole when it ends (the race detector on, except in the suites that drive processes)
test: lint
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-race test-processes test-modules

# PROCESS_PKGS drive separate processes (the README's commands, the Python example, the relay binary built as
# shipped under load in the resilience suite), so the race detector would watch only the test's own loop and the
# in-process fake, which their own packages test with it on; in the resilience suite it tripled the CPU and
# stretched the timings the specs are about. They run without it, beside the rest.
PROCESS_PKGS := ./suites/resilience/... . ./examples/python-service
# SLOW_PKGS go first: go test starts packages in the order given, two at a time, and a long one started last
# makes the run as long as itself
SLOW_PKGS := ./simulator/inspector ./relay/outbox ./cmd/screenshots ./relay/outbox/postgres ./cmd/simulator \
	./relay/delivery
# atexit_sleep_ms: the race detector waits 1 s (its default) as every test binary exits, for reports from
# goroutines still running; 60-odd binaries made that a minute. The tests end their goroutines before returning.
RACE_ENV := GORACE=atexit_sleep_ms=50
# -vet=off: lint has just run go vet with all its checks; go test would run a subset again for every package
TEST_FLAGS := -count=1 -vet=off

.PHONY: test-race test-processes test-modules
test-race:
	$(RACE_ENV) $(GO) test -race $(TEST_FLAGS) $(SLOW_PKGS) \
		$$($(GO) list ./... | grep -vxF "$$($(GO) list $(PROCESS_PKGS) $(SLOW_PKGS))")
# -timeout 20m: on a machine whose build cache is cold, `make release`'s cross-builds (a test in the root package)
# compile the standard library and every dependency for two platforms beside the race builds: past go test's
# default 10 minutes once
test-processes:
	$(GO) test $(TEST_FLAGS) -timeout 20m $(PROCESS_PKGS)
test-modules:
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && $(RACE_ENV) $(GO) test -race $(TEST_FLAGS) ./...) || exit 1; done

## suites: only the Ginkgo suites, in parallel, with a JUnit report in reports/
suites:
	mkdir -p reports
	$(GINKGO) -r --procs=$(PROCS) --randomize-all --keep-going --junit-report=junit.xml --output-dir=reports ./suites

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

## fuzz: run each fuzz target for FUZZTIME (default 30s): the CleverTap validator and read queries, the vendor
## parsers, the Purchasely signature check, the relay's job and record encodings and its intake JSON guard
FUZZ_TARGETS := simulator/clevertap/fake:FuzzUpload simulator/clevertap/fake:FuzzReadQuery relay/revenuecat:FuzzMap \
	relay/purchasely:FuzzMap relay/purchasely:FuzzVerifySignature relay/appsflyer:FuzzMap relay/outbox:FuzzEncodeJob \
	relay:FuzzRecord relay/service:FuzzCheckJSONBody relay/outbox:FuzzCheck internal/listener:FuzzGuardPassesBytesUnchanged \
	simulator/proxy:FuzzReadCapture
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$pkg $$fn ($(FUZZTIME))"; \
	$(GO) test ./$$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) || exit 1; done

## bench: the performance table (bench/): fake ingest, relay throughput and ack latency, e2e wall time and memory,
## each against a baseline measured in the same run (BENCH_FLAGS="--webhooks 200000 --skip e2e" for a shorter run)
BENCH_FLAGS ?=
bench: build
	$(GO) build -o bin/bench ./cmd/bench
	bin/bench --procs $(PROCS) $(BENCH_FLAGS)

## run: fake CleverTap + Piano (8081) and the relay (8080) in one process; plays the built-in scenarios, keeps serving
## (ARGS="--once --label refund" passes flags to simulator up)
# built, then run (not go run: on Ctrl-C go run exits 1 where the program exits 0, and make reports an error)
run:
	$(GO) build -o bin/simulator ./cmd/simulator
	bin/simulator up $(ARGS)

## screenshots: the README's pictures of the inspector (docs/inspector-*.png), made from the real page in the headless
## Chromium its browser tests drive, over a stack given a morning's traffic
screenshots:
	$(GO) run ./cmd/screenshots --out docs

## e2e: only the e2e scenario suite, in parallel (LABELS='revenuecat && trial' for a slice)
e2e:
	$(GINKGO) --procs=$(PROCS) --label-filter='$(LABELS)' ./suites/e2e

clean:
	rm -rf bin reports
