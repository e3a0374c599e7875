# The two commands a new user needs: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test install install-dev lint bench bench-quick bench-scripts chaos chaos-quick clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

run: install
	$(PY) scripts/dev.py env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py demo_setup
	$(PY) scripts/dev.py run

# Tests never read .env: they get throwaway secrets here. DATABASE_URL / REDIS_URL /
# CELERY_BROKER_URL from the environment switch to Postgres and Redis.
test: install-dev
	SECRET_KEY="$${SECRET_KEY:-test-only-$$RANDOM$$RANDOM}" \
	FIELD_ENCRYPTION_KEY="$${FIELD_ENCRYPTION_KEY:-$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')}" \
	SPENDFLO_IGNORE_DOTENV=1 \
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

# Every case of docs/benchmarks.md, ours beside a naive baseline: writes var/bench/results.json,
# docs/benchmarks.md and its charts. bench-quick: the same cases at tiny sizes (CI), written
# under var/bench/quick/. bench-scripts: the component benchmarks (sandbox, client, pickers).
bench: install-dev
	$(PY) -m bench

bench-quick: install-dev
	$(PY) -m bench --quick --json var/bench/quick/results.json \
		--report var/bench/quick/benchmarks.md --charts var/bench/quick

bench-scripts: install-dev
	@for script in bench/*_bench.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Scenarios against the sandbox with its fault mix on while Celery workers are SIGKILLed,
# invariants after each recovery (docs/chaos.md). CHAOS_ARGS: --minutes N, --seed N.
# chaos-quick: small sizes, one to two minutes (CI), report under var/chaos/.
chaos: install-dev
	$(PY) -m chaos $(CHAOS_ARGS)

chaos-quick: install-dev
	$(PY) -m chaos --quick $(CHAOS_ARGS)

clean:
	rm -rf var/staticfiles var/test-artifacts .pytest_cache .mypy_cache .ruff_cache
