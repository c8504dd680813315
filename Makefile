# shoptrace: `make install` sets up .venv, `make test` runs every test.
# Run `make help` for the rest.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: help install lock run-inventory run-checkout test test-services \
        images up down logs e2e check-containers clean

help:
	@echo "make up             build and start the stack, wait until checkout is ready"
	@echo "make down           stop the stack (traces and stock stay in their volumes)"
	@echo "make logs           follow the stack's logs"
	@echo "make test           run every test: services, container checks, end to end"
	@echo "make test-services  the services' tests only (no containers)"
	@echo "make e2e            the end-to-end tests against the running stack"
	@echo "make images         Docker engine, Compose and every image (stand-ins if no registry)"
	@echo "make install        create .venv with the pinned dependencies"
	@echo "make run-inventory  run inventory on :8081 (by hand)"
	@echo "make run-checkout   run checkout on :8080 (by hand)"
	@echo "make lock           re-pin requirements*.lock from pyproject.toml"

# The stamp makes `make install` a no-op until a lock file changes.
install: $(VENV)/.installed

$(VENV)/.installed: requirements-test.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements-test.lock
	$(PIP) install --quiet --no-deps -e .
	touch $@

lock: install
	$(PIP) install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url -o requirements.lock pyproject.toml
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url --extra test -o requirements-test.lock pyproject.toml

run-inventory: install
	$(PY) -m inventory

run-checkout: install
	$(PY) -m checkout

test-services: install
	$(PY) -m pytest tests --ignore=tests/e2e

# --- the stack: checkout, inventory, the Collector and Jaeger (docker-compose.yml)

images:
	scripts/images.sh

up: images
	docker compose up --build --wait

down:
	docker compose down

logs:
	docker compose logs -f --tail=200

e2e: install
	$(PY) -m pytest tests/e2e

check-containers: images
	scripts/check-containers.sh

# Everything: the services' tests, the static checks, then the stack is
# started, tested end to end and stopped again (its volumes are kept).
test: test-services check-containers up
	$(MAKE) e2e; status=$$?; docker compose down; exit $$status

clean:
	rm -rf $(VENV) data .pytest_cache
