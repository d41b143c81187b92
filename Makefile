# Two commands matter (see README): `make demo` and `make test`.
# Both install what they need: Debian packages (as root, via apt-get), a virtualenv, the package.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEBS   := prometheus prometheus-alertmanager git chromium chromium-driver
WORKDIR ?= demo-work

.PHONY: demo test bench deps venv lint clean manifests shared-check

demo: deps $(STAMP)
	rm -rf $(WORKDIR)
	$(BIN)/reconciler demo --workdir $(WORKDIR) $(DEMO_ARGS)

test: shared-check deps $(STAMP) lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# The shared test material (Keptn corpus, evaluation conformance cases) lives beside the
# project in ../shared (or $(RECONCILER_SHARED_DIR)). Said at once when missing: outside CI its
# tests skip with that reason; in CI (CI=true) its absence fails the run before pytest starts.
SHARED_DIR = $(or $(RECONCILER_SHARED_DIR),../shared)
SHARED_NEEDED = corpus/keptn/MANIFEST.tsv conformance/evaluation
shared-check:
	@missing=""; for p in $(SHARED_NEEDED); do [ -e "$(SHARED_DIR)/$$p" ] || missing="$$missing $(SHARED_DIR)/$$p"; done; \
	if [ -n "$$missing" ]; then \
	  where=$$(cd "$$(dirname "$(SHARED_DIR)")" 2>/dev/null && pwd)/$$(basename "$(SHARED_DIR)"); \
	  if [ "$$CI" = "true" ]; then \
	    echo "error: the shared test material is missing:$$missing (expected at $$where; set RECONCILER_SHARED_DIR to use another place); CI=true requires it" >&2; exit 1; \
	  fi; \
	  echo "note: the shared test material is missing:$$missing (expected at $$where; set RECONCILER_SHARED_DIR to use another place); the tests that need it will be skipped" >&2; \
	fi

# Style, types and the import contract (docs/ARCHITECTURE.md, "Layers"); `make test` runs it first.
lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/mypy
	$(BIN)/python -m tests.support.import_contract

bench: deps $(STAMP)
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

# Plain Kubernetes manifests rendered from the Helm chart (tests/deploy checks they are current).
manifests: $(STAMP)
	$(BIN)/python deploy/render_manifests.py

# Debian packages: installed only when a binary is missing, so repeat runs cost nothing.
deps:
	@missing=""; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	command -v git >/dev/null || missing="$$missing git"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(DEBS) >/dev/null; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) $(WORKDIR) build dist *.egg-info .pytest_cache .hypothesis .benchmarks .mypy_cache .ruff_cache
