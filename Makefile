# Smart Classroom. `make demo` runs it, `make test` proves it. Both set up everything first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup demo test test-services lint bench fuzz screenshots clean help

help:
	@echo "make demo   - set up, then run the portal and one simulated classroom"
	@echo "make test   - set up, start the test services, run the whole suite"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmarks, a table of ratios (BENCH='faces upload' for some)"
	@echo "make fuzz   - schemathesis over the API as each kind of caller (FUZZ_S=300 seconds)"
	@echo "make screenshots - every page at 1366 and 390 px into docs/screenshots/"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

setup: $(STAMP)

demo: setup
	$(BIN)/classroom demo

# Chromium from Debian for the browser tests (never `playwright install`) with a CJK font so
# screenshots of the zh-CN pages are legible; an RTSP server (rtsp-server-perl) for the stand-in
# IP camera to publish to; nginx for the portal behind TLS (tests/test_tls_proxy.py); PostgreSQL
# for the data layer: the machine's on 127.0.0.1:5432 if it answers, else a private one (.ci/postgres).
test-services: setup
	@command -v chromium >/dev/null && test -d /usr/share/fonts/truetype/wqy \
		&& command -v rtsp-server-perl >/dev/null && test -x /usr/sbin/nginx || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium fonts-wqy-microhei rtsp-server-perl nginx openssl >/dev/null; }
	@.ci/postgres > .ci/.pg-url

test: test-services
	CLASSROOM_TEST_PG_URL="$$(cat .ci/.pg-url)" $(BIN)/python -m pytest $(PYTEST_ARGS)

# Every page at a desk's and a phone's width, in Simplified Chinese, into docs/screenshots/
# (the same walk as the accessibility test, tests/test_pages_a11y.py).
screenshots: test-services
	rm -f docs/screenshots/*.jpg
	CLASSROOM_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/test_pages_a11y.py -k zh-CN

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy hardware streaming storage classroom web

# The same services as the tests (PostgreSQL for compliance and check-in, rtsp-server-perl for
# capture), plus the dlib baseline of the face benchmark.
bench: test-services
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	CLASSROOM_TEST_PG_URL="$$(cat .ci/.pg-url)" $(BIN)/python -m bench $(BENCH)

# Generated requests against every operation, as admin, manager, trainer, officer, agent and kiosk:
# no answer may be a server error (tests/fuzz.py says what is left out and why).
FUZZ_S ?= 300
fuzz: setup
	$(BIN)/python -m pip install -q -e '.[dev,fuzz]'
	$(BIN)/python -m tests.fuzz $(FUZZ_S)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .ci/.pg-url
