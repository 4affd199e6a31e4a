# The README's two commands: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt serve bench bench-positions osrm check-api

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo --if-empty
	DEBUG=$${DEBUG:-1} $(PY) -m daphne -b 127.0.0.1 -p $(PORT) atmr.asgi:application

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Schemathesis over every API operation, in-process with an admin's token: no 5xx, and every
# answer as the OpenAPI schema documents it (50 derandomized examples each; API_FUZZ_EXAMPLES).
check-api: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider -q tests/api_fuzz.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	ATMR_TESTING=1 $(VENV)/bin/mypy

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Production shape on DATABASE_URL and REDIS_URL: gunicorn gthread (HTTP API, admin, static
# files) on PORT and uvicorn (websockets) on WS_PORT, DEBUG off; migrates and collects static.
WS_PORT ?= 8001
serve: $(STAMP)
	PORT=$(PORT) WS_PORT=$(WS_PORT) $(PY) atmr/serve.py

# Bounded wrk loads against that stack on PostgreSQL and Redis (a local `atmr_bench` database
# unless DATABASE_URL is set), then the positions part (day partitions: COPY, write path,
# retention; BENCH_POSITIONS_ROWS, default 2 M); writes bench/results/<date>.md. BENCH_ONLY
# picks parts (health,lists,mix,scale,positions). Needs wrk (not for BENCH_ONLY=positions):
# installed with apt-get when missing and running as root, otherwise it stops and says so.
bench: $(STAMP)
	@[ "$$BENCH_ONLY" = positions ] || command -v wrk >/dev/null \
		|| { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq wrk; } \
		|| { echo "make bench needs wrk: apt-get install wrk" >&2; exit 2; }
	$(PY) bench/web_load/run.py


# The day-partitioned positions on PostgreSQL (DATABASE_URL): COPY a day, a driver's track, the
# write path at 667 batches/s, dropping the day. POSITIONS_ROWS bounds the load (29 M = a day).
POSITIONS_ROWS ?= 2000000
bench-positions: $(STAMP)
	$(PY) bench/positions_bench.py --rows $(POSITIONS_ROWS)
