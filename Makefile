# MARS Labs: the front door. `make run` to try it, `make test` to check it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test test-e2e lint format migrations-check check-deploy demo-reset screenshots install install-dev clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

## run: install, migrate, load the demo school and serve http://$(HOST):$(PORT)
run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver $(HOST):$(PORT)

## test: the whole suite (browser tests skip, saying why, when Chromium is missing)
test: $(VENV)/.dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-e2e: $(VENV)/.dev
	$(VENV)/bin/pytest tests/e2e $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(VENV)/.runtime
	$(PY) manage.py makemigrations --check --dry-run

## check-deploy: Django's deployment checklist with production-like settings
check-deploy: $(VENV)/.runtime
	DEBUG=false SECRET_KEY=ci-only-$$(printf 'x%.0s' $$(seq 1 60)) ALLOWED_HOSTS=labs.example.org \
		$(PY) manage.py check --deploy --fail-level WARNING

## demo-reset: throw away the local SQLite database and load the demo again
demo-reset: $(VENV)/.runtime
	rm -f db.sqlite3 db.sqlite3-wal db.sqlite3-shm
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py seed_demo

## screenshots: regenerate docs/screenshots/ with a real Chromium
screenshots: $(VENV)/.dev
	MARS_SCREENSHOTS=1 $(VENV)/bin/pytest tests/e2e -k screenshot $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
