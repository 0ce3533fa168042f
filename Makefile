# suanwang — the two commands a newcomer needs are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check bench scenarios install clean deps-debian

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/suanwang demo

check: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/lint-imports

# Debian packages the tests need (run as root): a PostgreSQL server for the storage tests and
# Chromium for the web portal's browser tests; only what is missing is installed.
deps-debian:
	@missing=""; full=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -x /usr/bin/bwrap || missing="$$missing bubblewrap"; \
	test -x /usr/bin/podman || full="$$full podman"; \
	test -x /usr/sbin/runc || full="$$full runc"; \
	if [ -n "$$missing$$full" ]; then apt-get update; fi; \
	if [ -n "$$missing" ]; then DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends $$missing; fi; \
	if [ -n "$$full" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y $$full; fi

test: deps-debian check
	SUANWANG_REQUIRE_POSTGRES=1 $(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache build dist
