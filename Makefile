# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# python3.11 where it runs (the local torch 2.13.0 CPU wheel is built for it), else python3 (3.11-3.13).
PYTHON ?= $(shell for p in python3.11 python3; do $$p -c 'import sys' 2>/dev/null && echo $$p && break; done)
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/salt-harness run studies/demo.yaml --workers 2

# The PostgreSQL scenarios use a throwaway server on loopback (scripts/postgres-test-server); without
# one they skip with the reason, unless SALT_REQUIRE_POSTGRES=1 (CI), where they fail.
test: $(STAMP)
	SALT_TEST_POSTGRES_URL="$${SALT_TEST_POSTGRES_URL:-$$(scripts/postgres-test-server 2>/dev/null || true)}" \
		$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# Speed and memory against their targets; writes BENCHMARKS.md and benchmarks/results/ (about 20 min).
bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
