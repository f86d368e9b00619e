# Two commands matter: `make demo` and `make test`. Both set everything up from the project's own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
export DAGSTER_HOME := $(CURDIR)/dagster_home
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup superset-env system-packages demo report report-images test docs bench ui serve dashboards lint clean

# Programs from Debian the report, dashboard and browser tests use: LibreOffice (DOCX → PDF), poppler
# (pdftotext, pdftoppm), Chromium (dashboard screenshots) and fonts with Cyrillic. Installed with apt-get when
# missing and allowed (root); otherwise the command says what to install.
DEBIAN_PACKAGES := libreoffice-writer-nogui poppler-utils chromium fonts-dejavu-core fonts-liberation2

$(INSTALLED): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e '.[dev]'
	@touch $@

# dbt's manifest, which Dagster reads to build the dbt assets
$(MANIFEST): $(INSTALLED) $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.csv' | grep -v target/)
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir .
	@touch $@

setup: $(INSTALLED) $(MANIFEST)

# Superset's own environment (.venv-superset/, its pins clash with ours), installed by the project's uv; `make test`
# builds it before the suite, `make dashboards` on first use.
superset-env: $(INSTALLED)
	$(BIN)/python -m pipelines.superset_env

system-packages:
	@if command -v soffice >/dev/null && command -v pdftoppm >/dev/null && command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing from Debian: $(DEBIAN_PACKAGES)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; \
	else echo "Please install (Debian/Ubuntu): sudo apt-get install $(DEBIAN_PACKAGES)"; exit 1; fi

## demo: set up, generate the sample region (first run only) and materialise every asset
demo: setup
	$(BIN)/python -m pipelines.demo

## report: the yearly справки (DOCX and PDF) of every school year in the marts, per municipality and for the
## region, into data/reports/<school year>/ (after `make demo`)
report: setup system-packages
	$(BIN)/python -m pipelines.report

## report-images: the first page and the first page with a chart of the regional справка of REPORT_YEAR, as
## PNGs in docs/images/ (after `make report`)
REPORT_YEAR ?= 2022-2023
report-images: setup system-packages
	$(BIN)/python -m pipelines.report --images $(REPORT_YEAR)

## test: set up and run the whole suite, a test file per worker on TEST_WORKERS workers (pytest-xdist), the
## slowest tests listed at the end. Three workers on two cores: the service and dashboard tests spend much of
## their time waiting for the processes they start.
TEST_WORKERS ?= 3
test: system-packages
	@$(MAKE) --no-print-directory -j2 setup superset-env
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

## docs: dbt docs (lineage, Russian labels) and the GE Data Docs, as files to open (after `make demo`)
docs: setup
	$(BIN)/python -m pipelines.docs

## bench: the pipeline against bare DuckDB and pandas on six generated national years (about an hour, ~6 GB
## of files in bench/.work); writes bench/RESULTS.md. Not part of `make test`.
bench: setup
	$(BIN)/python -m bench.run --work bench/.work

## ui: the Dagster UI on http://127.0.0.1:3000
ui: setup
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

## serve: the Dagster webserver and daemon as long-running services (host and port: `services:` in
## pipelines/config/operations.yaml; deploy/ has the systemd units running the same entry point)
serve: setup
	$(BIN)/python -m pipelines.serve

## dashboards: Apache Superset on http://127.0.0.1:8088 with the dashboards of deploy/superset/dashboards/ on the
## PostgreSQL marts (EDUWH_POSTGRES_CONNINFO) or the analysts' DuckDB file; its own venv, .venv-superset/, built once
dashboards: setup
	$(BIN)/python -m pipelines.dashboards

lint: setup
	$(BIN)/ruff check pipelines tests

clean:
	rm -rf $(VENV) .venv-superset .venv-superset.lock .venv-duckdb14 .venv-duckdb14.lock dbt_project/target dbt_project/logs
