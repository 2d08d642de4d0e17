# Parley: `make run` starts everything locally; `make test` runs the unit suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-integration test-all lint format check bench install clean browser screenshots

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	bin/run

# Browser tests drive Debian's Chromium through Playwright; install it if missing.
browser:
	@bin/ensure_chromium

test: $(STAMP) browser
	$(PY) -m pytest -m "not integration" -n 2 --dist loadgroup

# Full-page screenshots of every staff page, as each role, on a phone and a laptop, for review:
# the responsive sweep with SCREENSHOTS_DIR set (var/ is not committed).
SCREENSHOTS_DIR ?= $(CURDIR)/var/screenshots

screenshots: $(STAMP) browser
	rm -rf $(SCREENSHOTS_DIR)
	SCREENSHOTS_DIR=$(SCREENSHOTS_DIR) $(PY) -m pytest -p no:randomly -q -n 2 --dist loadgroup \
		tests/e2e/test_responsive_sweep.py
	@echo "Screenshots: $(SCREENSHOTS_DIR)/phone and $(SCREENSHOTS_DIR)/laptop"

INTEGRATION_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/parley
INTEGRATION_REDIS_URL ?= redis://127.0.0.1:6379/15

# Unit tests whose promises must hold on PostgreSQL too (the unit suite runs on SQLite): the
# audit log, two-factor sign-in, erasure and consent guards, lock-outs, the admin policy,
# channel secrets, the hostile-query fuzz, the analytics figures counted by hand, the
# inbox's round robin under concurrent assignments, and the set-based writes that apply
# statuses (typed arrays on PostgreSQL, VALUES lists on SQLite).
POSTGRES_PROOFS := tests/core/test_audit.py tests/core/test_audit_pages.py \
	tests/core/test_two_factor.py tests/core/test_lockout_proxy.py tests/core/test_admin_policy.py \
	tests/core/test_query_fuzz.py tests/crm/test_erasure.py \
	tests/messaging/channels/test_channel_secrets.py tests/analytics/test_known_world.py \
	tests/analytics/test_money.py tests/analytics/test_templates.py tests/analytics/test_campaign_live.py \
	tests/analytics/test_demo.py tests/analytics/test_template_rollup.py \
	tests/messaging/inbox/test_routing.py tests/core/test_bulk.py \
	tests/messaging/sending/test_statuses.py

# The proofs run beside the integration suite (bin/test_integration), on a database of their
# own and without Redis; their output is printed once both are done.
PROOFS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/parley_proofs
PROOFS_LOG ?= var/postgres-proofs.log
PROOFS_WORKERS ?= 1

test-integration: $(STAMP)
	bin/test_integration $(PY) $(INTEGRATION_DATABASE_URL) $(INTEGRATION_REDIS_URL) \
		$(PROOFS_DATABASE_URL) $(PROOFS_LOG) $(PROOFS_WORKERS) $(POSTGRES_PROOFS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: $(STAMP)
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf var staticfiles .pytest_cache
