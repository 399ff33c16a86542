# MARS Labs: the front door. `make run` to try it, `make test` to check it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test test-e2e lint format migrations-check check-deploy demo-reset backup restore screenshots install install-dev clean messages

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

## backup: a consistent copy of the database while the site runs (backups/mars-<UTC time>.sqlite3 or .pgdump)
backup: $(VENV)/.runtime
	$(PY) manage.py backup

## restore: make restore FILE=backups/mars-<time>.sqlite3 -- replaces the whole database (docs/operations.md)
restore: $(VENV)/.runtime
	@test -n "$(FILE)" || { echo "make restore needs FILE=backups/mars-<time>.sqlite3 (or .pgdump); nothing was changed" >&2; exit 2; }
	$(PY) manage.py restore "$(FILE)"

## screenshots: regenerate docs/screenshots/ with a real Chromium
screenshots: $(VENV)/.dev
	MARS_SCREENSHOTS=1 $(VENV)/bin/pytest tests/e2e -k screenshot $(PYTEST_ARGS)

## messages: regenerate locale/{hi,en} from the code and templates, then compile the .mo files
## (Debian's gettext; translate every new msgid in locale/hi/LC_MESSAGES/django.po first)
MESSAGES_IGNORE := --ignore .venv --ignore staticfiles --ignore tests --ignore bench --ignore docs
messages: $(VENV)/.runtime
	$(PY) manage.py makemessages -l hi -l en --no-obsolete --add-location file $(MESSAGES_IGNORE)
	$(PY) manage.py compilemessages $(MESSAGES_IGNORE)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
