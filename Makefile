# Two-command quickstart: `make demo` and `make test` each work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DEMO_MODEL := examples/tiny_convnet.onnx

.PHONY: venv demo test fuzz bench lint format clean serve chromium

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/estimate-latency $(DEMO_MODEL) --hw i7-12700K

# the HTTP API on 127.0.0.1:8000 (docs/service.md); e.g. make serve SERVE_ARGS="--port 9000"
serve: $(STAMP)
	$(VENV)/bin/estimate-server $(SERVE_ARGS)

# Debian's chromium for the page's browser tests (tests/service/test_page.py), installed where it
# can be (root and apt-get); elsewhere this step says so and those tests skip with the same reason
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo 'chromium not installed: the browser tests in tests/service/test_page.py will skip'

test: $(STAMP) chromium
	$(PY) -m pytest -q -n 2 -m 'not serial' tests
	$(PY) -m pytest -q -m serial tests

# the long fuzz run of issue 15 (docs/fuzz.md): FUZZ_EXAMPLES cases spread over the property
# tests of tests/fuzz/ (make test runs the same tests bounded, ~1,250 cases); figures -> FUZZ_REPORT
FUZZ_EXAMPLES ?= 10000
FUZZ_REPORT ?= out/fuzz-report.json
fuzz: $(STAMP)
	mkdir -p $(dir $(FUZZ_REPORT))
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_REPORT=$(FUZZ_REPORT) $(PY) -m pytest -q tests/fuzz

bench: $(STAMP)
	$(PY) -m pytest -q benchmarks --benchmark-enable --benchmark-only --benchmark-columns=min,median,mean,stddev,rounds

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .benchmarks
