# shoptrace: `make install` sets up .venv, `make test` runs every test.
# Run `make help` for the rest.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: help install lock run-inventory run-checkout test test-services \
        images up up-scale test-scale down logs e2e drills check-containers clean trace load pitfalls \
        bench bench-smoke bench-doctor bench-watch bench-one-host bench-scale bench-scale-smoke browser screenshots w3c lint doctor

# What `make test` runs, in this order: the checks that need no stack...
TEST_BEFORE_STACK := lint test-services check-containers
# ...then these, on a stack of its own (TEST_PROJECT), and `down` at the end whatever happened.
TEST_ON_STACK := up e2e drills bench-smoke up-scale test-scale bench-scale-smoke
# The Compose project `make test` runs its stack as: volumes of its own, so the tests' traces
# and metrics never land in the store `make up` gives a person, and a person's survive the tests.
TEST_PROJECT := shoptrace-test
# After a run that measured (drills, the gateway tier's tests, the benches), the figures the
# README and docs/ quote are written again from bench/results/ (scripts/figures.py).
FIGURES := $(PY) -m scripts.figures --write

help:
	@echo "First steps"
	@echo "  make install        create .venv with the pinned dependencies (the services', the tools' and the tests')"
	@echo "  make up             build and start the stack (docker compose up --build --wait), wait until checkout is ready"
	@echo "  make down           stop the stack, either one (traces and stock stay in their volumes)"
	@echo "  make logs           follow the stack's logs"
	@echo "Explore (against the running stack)"
	@echo "  make trace ID=...   one trace from Jaeger as a waterfall, with both services' log lines (LAST_ERROR=1: the latest failing one; LOGS=files)"
	@echo "  make load           drive checkout (DURATION=10 RATE=20 MIX=item-123=80,sold-out=10,...) and sum up"
	@echo "  make pitfalls       the five ways a trace silently breaks, broken and fixed side by side (PITFALL=name;"
	@echo "                      EXPORT=1: also sent to the stack, for Jaeger and make doctor)"
	@echo "  make doctor         where traces broke in the last SINCE (15m): each broken edge, its kind, cause and fix (JSON=1)"
	@echo "  make screenshots    start the stack if needed, make the walkthrough's failing trace, picture the UI into docs/img/"
	@echo "Test"
	@echo "  make test           every test, one after another: $(TEST_BEFORE_STACK) $(TEST_ON_STACK), then down;"
	@echo "                      the stack as the Compose project $(TEST_PROJECT), with its own volumes (a running"
	@echo "                      make up stack is stopped first; its traces stay for the next make up)"
	@echo "  make lint           ruff (rules, import order, format) on the whole tree; mypy --strict on the services"
	@echo "  make test-services  the services' tests only (no containers)"
	@echo "  make check-containers  docker compose config -q (both files) and hadolint on every Dockerfile (no stack)"
	@echo "  make e2e            the end-to-end tests against the running stack, the Jaeger UI's in Chromium included"
	@echo "  make drills         fault drills under load against the running stack (bench/results/drills.json)"
	@echo "  make bench-smoke    make bench, bench-doctor, bench-one-host and bench-watch, a few seconds a step, to keep them working (bench/results/*smoke.*; asserts nothing on speed)"
	@echo "  make bench-doctor   the doctor over 10,000 orders' traces: time and peak memory (bench/results/doctor.json)"
	@echo "  make bench-watch    traceproof watch: the span rate it keeps up with, CPU, memory, lag, Jaeger's load (bench/results/watch.json)"
	@echo "  make bench-one-host the doctor when every call comes from one address: precision and recall (no stack)"
	@echo "  make up-scale       the stack with GATEWAYS (3) tail-sampling gateway Collectors behind the agent (docs/scaling.md)"
	@echo "  make test-scale     the gateway tier's tests against the running up-scale stack (sampling, a gateway killed)"
	@echo "  make bench-scale-smoke  make bench-scale, brief, to keep it working (asserts nothing on speed)"
	@echo "  make browser        Debian's Chromium, for the UI tests (CHROMIUM=path: use another)"
	@echo "  make w3c W3C_SUITE=path/to/trace-context/test   the W3C Trace Context test suite against the kit's propagation"
	@echo "Measure"
	@echo "  make bench          tracing's cost: services run natively against the stack's Collector, Jaeger and Prometheus (bench/results/latest.*)"
	@echo "  make bench-scale    spans per second through 1 and GATEWAYS gateways, each tier's CPU per span (bench/results/scale.json)"
	@echo "By hand"
	@echo "  make run-inventory  run inventory on :8081"
	@echo "  make run-checkout   run checkout on :8080"
	@echo "  make images         what make up needs first: only where Docker, Compose or an image is missing, an engine,"
	@echo "                      Compose, or stand-in images built locally (docker/README.md); elsewhere it only asks Docker"
	@echo "  make lock           re-pin requirements*.lock from pyproject.toml"

# The stamp makes `make install` a no-op until a lock file changes.
install: $(VENV)/.installed

$(VENV)/.installed: requirements-test.lock pyproject.toml traceproof/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements-test.lock
	$(PIP) install --quiet --no-deps -e ./traceproof -e .
	touch $@

# traceproof/requirements.lock is the watcher's image's (traceproof/Dockerfile): traceproof's
# dependencies and build backend only, at the versions the tests run (-c requirements-test.lock).
lock: install
	$(PIP) install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url -o requirements.lock pyproject.toml
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url --extra test --extra explore --extra bench -o requirements-test.lock pyproject.toml traceproof/pyproject.toml
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url --all-build-deps -c requirements-test.lock -o traceproof/requirements.lock traceproof/pyproject.toml

run-inventory: install
	$(PY) -m inventory

run-checkout: install
	$(PY) -m checkout

# pyproject.toml's [tool.ruff] and [tool.mypy] say what is checked, and why.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test-services: install
	$(PY) -m pytest tests traceproof/tests --ignore=tests/e2e --ignore=tests/drills --ignore=tests/scale

# --- the stack: checkout, inventory, the Collector, Jaeger and Prometheus (docker-compose.yml)

images:
	scripts/images.sh

# --remove-orphans: a gateway left by up-scale would hold the network.
up: images
	docker compose up --build --wait --remove-orphans

# docker-compose.scale.yml over docker-compose.yml; GATEWAYS etc. from .env or the environment.
SCALE_COMPOSE := docker compose -f docker-compose.yml -f docker-compose.scale.yml
up-scale: images
	$(SCALE_COMPOSE) up --build --wait --remove-orphans

down:
	docker compose down --remove-orphans

# The gateway tier's tests (tests/scale) against the running `make up-scale` stack.
test-scale: install
	$(PY) -m pytest tests/scale
	$(FIGURES)

logs:
	docker compose logs -f --tail=200

e2e: install browser
	$(PY) -m pytest tests/e2e

# The UI tests drive a real Chromium through Playwright, and it must be Debian's:
# nothing here may download a browser build (so never `playwright install`).
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
browser:
	@test -x "$(CHROMIUM)" || { \
	  echo "installing Debian's chromium (for the Jaeger UI tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium fonts-liberation >/dev/null; }

# The pictures in docs/img, from a real run: the Jaeger UI's (README's quick start, docs/walkthrough.md),
# then Prometheus's graph of breaks per edge and its alerts page during the pitfalls (docs/doctor.md).
screenshots: install browser up
	$(PY) -m scripts.screenshots docs/img
	$(PY) -m scripts.alert_screenshots docs/img

# Fault drills under load against the running stack; figures to bench/results/drills.json.
drills: install
	$(PY) -m pytest tests/drills
	$(FIGURES)

# hadolint comes with the test tools (.venv); `docker compose config` needs Compose,
# and on a machine without one images.sh provides it (and the docker CLI with the engine).
check-containers: install
	scripts/images.sh engine compose
	scripts/check-containers.sh

# Everything (TEST_BEFORE_STACK, TEST_ON_STACK above): lint, the services' tests, the
# static checks, then the stack is started (as TEST_PROJECT), tested end to end, drilled,
# benchmarked briefly (a smoke: nothing asserted on speed); then the same with the gateway
# tier (up-scale), and stopped again (its volumes are kept, apart from a person's).
# Both stacks publish the same ports: a running `make up` stack is stopped first (stopped, not
# removed: its volumes stay, and `make up` brings it back as it was).
test: $(TEST_BEFORE_STACK)
	docker compose stop
	COMPOSE_PROJECT_NAME=$(TEST_PROJECT) $(MAKE) $(TEST_ON_STACK); status=$$?; \
	  COMPOSE_PROJECT_NAME=$(TEST_PROJECT) docker compose down --remove-orphans; exit $$status

# --- exploring: explore/ and examples/pitfalls (docs/walkthrough.md, docs/pitfalls.md)

trace: install
	$(PY) -m explore.trace_view $(if $(LAST_ERROR),--last-error) $(ID) $(if $(LOGS),--logs $(LOGS))

load: install
	$(PY) -m explore.load $(if $(DURATION),--duration $(DURATION)) $(if $(RATE),--rate $(RATE)) $(if $(MIX),--mix '$(MIX)')

pitfalls: install
	$(if $(EXPORT),PITFALLS_EXPORT=1 )$(PY) -m examples.pitfalls $(PITFALL)

# Where context stopped flowing in what Jaeger holds (the traceproof package's doctor, docs/doctor.md):
# exit 0 nothing broken, 1 something is, 2 it cannot tell.
SINCE ?= 15m
doctor: install
	$(VENV)/bin/traceproof doctor --since $(SINCE) --prometheus $(or $(PROMETHEUS_URL),http://localhost:9090) $(if $(JSON),--json)

# --- performance (bench/, docs/performance.md): wrk against checkout and inventory run
# as native processes on 18080/18081, exporting to the stack's Collector.

bench: install up
	$(PY) -m bench
	$(FIGURES)

bench-smoke: install up
	BENCH_SMOKE=1 $(PY) -m bench
	BENCH_SMOKE=1 $(PY) -m bench.doctor
	BENCH_SMOKE=1 $(PY) -m bench.one_host
	BENCH_SMOKE=1 $(PY) -m bench.watch

# The doctor on one host: a bare client's breaks among direct calls from the same
# address, precision and recall (bench/results/doctor-one-host.json, docs/doctor.md).
bench-one-host: install
	$(PY) -m bench.one_host
	$(FIGURES)

# The doctor over a window of BENCH_DOCTOR_TRACES (10,000) orders: time and peak memory
# for a quarter, a half and all of it (bench/results/doctor.json, docs/doctor.md).
bench-doctor: install up
	$(PY) -m bench.doctor
	$(FIGURES)

# traceproof watch: the highest span rate one watcher keeps up with, its CPU per span,
# memory and lag, and Jaeger's CPU with and without it (bench/results/watch.json, docs/doctor.md).
bench-watch: install up
	$(PY) -m bench.watch
	$(FIGURES)

# The gateway tier's throughput (docs/scaling.md): synthetic traces through 1 and GATEWAYS
# gateways, stepped up to the highest rate sustained (bench/results/scale*.json).
bench-scale: install up-scale
	$(PY) -m bench.scale
	$(FIGURES)

bench-scale-smoke: install up-scale
	BENCH_SMOKE=1 $(PY) -m bench.scale

# The official W3C Trace Context test suite (github.com/w3c/trace-context, its test/
# folder; not vendored: fetch it) against a kit-made service that only propagates
# (tests/support/w3c_service.py). Strict level 2 and spec level 2: every case.
W3C_SUITE ?=
w3c: install
	@test -f "$(W3C_SUITE)/test.py" || { echo "set W3C_SUITE to the test/ folder of github.com/w3c/trace-context"; exit 2; }
	test -x build/w3c-venv/bin/python || { $(PYTHON) -m venv build/w3c-venv && build/w3c-venv/bin/pip install -q aiohttp; }
	OTEL_SERVICE_NAME=w3c-propagation OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 $(PY) -m tests.support.w3c_service >build/w3c-service.log 2>&1 & \
	  service=$$!; trap 'kill $$service' EXIT; $(PY) -c 'from harness.processes import wait_healthy; wait_healthy("http://127.0.0.1:5000", 20)'; \
	  cd "$(W3C_SUITE)" && SPEC_LEVEL=2 STRICT_LEVEL=2 $(CURDIR)/build/w3c-venv/bin/python test.py http://127.0.0.1:5000/test

clean:
	rm -rf $(VENV) data .pytest_cache
