# edgedigits — `make train export` runs the main job, `make test` runs the tests.
# The first target used bootstraps .venv from pyproject.toml + constraints.txt.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
MODEL  ?= edge
EPOCHS ?=
ART    := artifacts/$(MODEL)
REALPHOTOS ?= ../shared/datasets/realphotos
DEGRADE ?=
export MNIST_DIR

.DEFAULT_GOAL := help
.PHONY: help train export test test-slow clean bench bench-real bench-digits bench-check bench-peers release-model runtime-wheel pi-check FORCE

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/' | expand -t 16

$(VENV)/.installed: pyproject.toml constraints.txt runtime/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]' -e './runtime[onnx,camera,mqtt]'
	touch $@

# Re-train only when the model, the epochs or the training code changed.
$(ART)/.train-args: FORCE
	@mkdir -p $(ART)
	@echo '$(MODEL) $(EPOCHS)' | cmp -s - $@ || echo '$(MODEL) $(EPOCHS)' > $@

$(ART)/model.keras: $(ART)/.train-args $(wildcard train/*.py) $(VENV)/.installed
	$(PY) -m train --model $(MODEL) $(if $(EPOCHS),--epochs $(EPOCHS))

train: $(ART)/model.keras  ## train MODEL (default: edge) into artifacts/MODEL/

$(ART)/manifest.json: $(ART)/model.keras $(wildcard export/*.py) runtime/edgedigits/formats.py runtime/edgedigits/metadata.py
	$(PY) -m export --model $(MODEL)

export: $(ART)/manifest.json  ## export MODEL to int8/float TFLite and ONNX with parity checks

test: $(VENV)/.installed  ## fast tests (tiny models, small data slices)
	$(PY) -m pytest

test-slow: $(VENV)/.installed  ## slow tests on full data
	$(PY) -m pytest -m slow

clean:  ## remove the venv, artifacts and benchmark results
	rm -rf $(VENV) artifacts benchmarks/results build dist runtime/build runtime/*.egg-info *.egg-info

pi-check: $(VENV)/.installed  ## prove the runtime on emulated Raspberry Pi OS (arm64)
	bash runtime/pi/pi_check.sh

bench: $(VENV)/.installed  ## benchmark every exported model and format (MODEL=… for one), digits beyond MNIST, batch and serve throughput, the real photos
	$(PY) -m benchmarks run $(if $(filter command line,$(origin MODEL)),--models $(MODEL))
	$(PY) -m benchmarks digits --set "$(REALPHOTOS)" $(if $(filter command line,$(origin MODEL)),--models $(MODEL))
	$(PY) -m benchmarks batch --model $(ART)/manifest.json
	$(PY) -m benchmarks serve --model $(ART)/manifest.json
	$(PY) -m benchmarks scenes --model $(ART)/manifest.json
	@if [ -f "$(REALPHOTOS)/labels.csv" ]; then $(PY) -m benchmarks real --set "$(REALPHOTOS)" --model $(ART)/manifest.json $(if $(DEGRADE),--degrade $(DEGRADE)); \
	else echo "bench: no real photos at $(REALPHOTOS) (set REALPHOTOS=DIR): real-photo benchmark skipped"; fi

bench-real: $(VENV)/.installed  ## the reader on a labelled folder of real photos (REALPHOTOS=DIR; DEGRADE=blur,small,... reads degraded copies too), per source
	$(PY) -m benchmarks real --set "$(REALPHOTOS)" --model $(ART)/manifest.json $(if $(DEGRADE),--degrade $(DEGRADE))

# Peers (other OCR engines) live in their own venv and never in .venv, the runtime or `make test`.
PEERS_VENV := .cache/peers-venv

$(PEERS_VENV)/.installed:
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q rapidocr-onnxruntime==1.4.4
	touch $@

bench-peers: $(VENV)/.installed $(PEERS_VENV)/.installed  ## the real-photo table with RapidOCR (own venv in .cache/) and the tesseract binary when present, on the same frames
	@command -v tesseract >/dev/null || echo "bench-peers: no tesseract binary (apt-get install tesseract-ocr): Tesseract skipped"
	$(PY) -m benchmarks real --set "$(REALPHOTOS)" --model $(ART)/manifest.json --peers rapidocr,tesseract

bench-digits: $(VENV)/.installed  ## every model and format on MNIST, load_digits, real-photo crops and non-digits
	$(PY) -m benchmarks digits --set "$(REALPHOTOS)" $(if $(filter command line,$(origin MODEL)),--models $(MODEL))

bench-check: $(VENV)/.installed  ## regression gate: a quick run compared with benchmarks/baseline.json
	$(PY) -m benchmarks check --quick

release-model: $(VENV)/.installed artifacts/edge/manifest.json  ## copy the exported edge int8 model into the runtime package
	$(PY) -m export.release --model edge

runtime-wheel: $(VENV)/.installed  ## build the device package into dist/
	$(PY) -m pip wheel --no-deps -w dist ./runtime
