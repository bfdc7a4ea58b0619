# The two commands: `make demo` and `make test`. Each sets up what it needs itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	@command -v curl >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q curl; } || true
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/isthmus demo

# A real, large OpenAPI document for the importer's tests: GitHub's, from the npm registry.
GITHUB_OPENAPI := .cache/openapi/api.github.com.json
$(GITHUB_OPENAPI):
	mkdir -p .cache/openapi
	cd .cache/openapi && npm pack --silent @octokit/openapi@23.0.2 >/dev/null \
	  && tar xzf octokit-openapi-23.0.2.tgz package/generated/api.github.com.json \
	  && mv package/generated/api.github.com.json . && rm -rf package octokit-openapi-*.tgz

# The official AsyncAPI 3.0 JSON Schema, that the events export is validated against.
ASYNCAPI_SCHEMA := .cache/asyncapi/3.0.0.json
$(ASYNCAPI_SCHEMA):
	mkdir -p .cache/asyncapi
	cd .cache/asyncapi && npm pack --silent @asyncapi/specs@6.11.1 >/dev/null \
	  && tar xzf asyncapi-specs-6.11.1.tgz 'package/schemas/3.0.0-without-$$id.json' \
	  && mv 'package/schemas/3.0.0-without-$$id.json' 3.0.0.json \
	  && rm -rf package asyncapi-specs-*.tgz

# Command-line checkers the governance tests run exported documents through: Spectral with
# the OWASP ruleset, and swagger-cli (Swagger 2.0, for the Power Platform profile).
NPM_PACKAGES := @stoplight/spectral-cli@6.16.3 @stoplight/spectral-owasp-ruleset@2.0.1 \
  @apidevtools/swagger-cli@4.0.4 @backstage/catalog-model@1.10.1
# the stamp names the package list: a changed list installs again
NPM_TOOLS := .cache/npm/.installed-$(shell echo '$(NPM_PACKAGES)' | sha1sum | cut -c1-12)
$(NPM_TOOLS):
	mkdir -p .cache/npm
	npm install --silent --no-audit --no-fund --prefix .cache/npm $(NPM_PACKAGES)
	rm -f .cache/npm/.installed-*
	touch $(NPM_TOOLS)

# The portal's browser test drives Debian's Chromium (Playwright cannot download browsers
# here); installed as root, else the test says how to install it.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get install -y -q chromium >/dev/null; \
	else echo "note: install Debian's chromium package for the portal's browser test"; fi

test: $(STAMP) $(GITHUB_OPENAPI) $(ASYNCAPI_SCHEMA) $(NPM_TOOLS) $(CHROMIUM)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# Benchmarks need wrk (and use nginx when present): Debian packages, installed as root.
bench: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk nginx-light; }
	$(BIN)/python benchmarks/gateway.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/upstream_client.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/schema_checks.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/connectors.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/events.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/virtual.py $(BENCH_ARGS)

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .cache .isthmus .isthmus-demo .pytest_cache .mypy_cache .ruff_cache
