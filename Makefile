# revloop — build, run, test, benchmark.
# `make run` runs the embedded default with a simulated fleet; `make test` runs every test,
# starting Mosquitto, InfluxDB 1.8.10 and PostgreSQL on loopback ports (installed when missing).

GO        ?= go
BIN       := bin
DATA_DIR  ?= ./data
BENCH_DIR ?= ../shared/benchmarks/vrp
FUZZTIME  ?= 10s
REVLOOP_TEST_DIR ?= /tmp/revloop-test
export REVLOOP_TEST_DIR

.PHONY: all build build-bridge run test test-unit vet deps-check fuzz bench bench-ingest bench-ingest-reference bench-route \
        bench-bridge bench-yard bench-auth bench-api bench-fences bench-report bench-console \
        services-start services-stop clean

all: build

build:
	$(GO) build -o $(BIN)/revloop ./cmd/revloop
	$(GO) build -o $(BIN)/revloop-bridge ./cmd/revloop-bridge

# The main job: revloop serve on the embedded default, fed by revloop simulate.
run: build
	DATA_DIR=$(DATA_DIR) deploy/scripts/run-demo.sh

# Every test: unit tests plus the integration tests against real Mosquitto, InfluxDB
# and PostgreSQL, which deploy/scripts/test.sh installs when missing and starts on loopback.
test:
	deploy/scripts/test.sh

# Unit tests only (integration tests skip without the services).
test-unit:
	$(GO) test ./...

vet:
	$(GO) vet ./...

# The edge gateway must link none of the server's dependencies.
deps-check:
	deploy/scripts/deps-check.sh

build-bridge:
	@for target in arm64: arm:7; do \
	  arch=$${target%%:*}; arm=$${target##*:}; out=$(BIN)/revloop-bridge-linux-$$arch; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags='-s -w' -o $$out ./cmd/revloop-bridge || exit 1; \
	  printf '%s %s bytes\n' $$out $$(stat -c %s $$out); \
	done

fuzz:
	deploy/scripts/fuzz.sh $(FUZZTIME)

bench: bench-ingest bench-route bench-bridge bench-yard bench-auth bench-api bench-fences bench-report bench-console

bench-ingest: build services-start
	$(BIN)/revloop bench ingest --config embedded
	. $(REVLOOP_TEST_DIR)/services.env; $(BIN)/revloop bench ingest --config mosquitto-sub,mosquitto-influx \
	  --mqtt-url "$$REVLOOP_TEST_MQTT_URL" --influx-url "$$REVLOOP_TEST_INFLUX_URL"

# The reference: Telegraf and revloop storing the same GPS fixes through the
# same Mosquitto and InfluxDB (builds Telegraf with its few plugins when missing).
bench-ingest-reference: build services-start
	. $(REVLOOP_TEST_DIR)/services.env; $(BIN)/revloop bench ingest --mix gps-json \
	  --config mosquitto-sub,telegraf,mosquitto-influx --telegraf-bin "$$(deploy/scripts/install-telegraf.sh)" \
	  --mqtt-url "$$REVLOOP_TEST_MQTT_URL" --influx-url "$$REVLOOP_TEST_INFLUX_URL"

bench-route: build
	$(BIN)/revloop bench route --dir $(BENCH_DIR)

bench-bridge:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./firmware-bridge/
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./firmware-bridge/queue/

bench-yard: build
	$(BIN)/revloop bench yard

bench-auth: build
	$(BIN)/revloop bench auth
	$(BIN)/revloop bench health

bench-api: build
	$(BIN)/revloop bench api-latest

bench-fences: build
	$(BIN)/revloop bench fences

bench-report: build
	$(BIN)/revloop bench report

# First render of the live map with 500 vehicles and 5,000 bins in headless Chromium.
bench-console: build
	cd web && npm ci --no-audit --no-fund --loglevel=error && REVLOOP_BIN=../$(BIN)/revloop node bench/bench-map.mjs

services-start:
	deploy/scripts/services.sh start all

services-stop:
	deploy/scripts/services.sh stop all

clean:
	rm -rf $(BIN)
