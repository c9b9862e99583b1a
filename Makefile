# `make run`: set up, ingest the shipped corpus, serve the API + web chat on http://127.0.0.1:8000
# `make test`: set up, then run the whole test suite (real model, real Chroma, real HTTP)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run ingest serve test test-fast lint format eval eval-store train crossval splits bench clean
EVAL_DATA := var/eval

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# CPU torch first: otherwise pip resolves a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

ingest: setup
	$(BIN)/pm-ingest corpus

serve: setup
	$(BIN)/pm-assistant serve --host 127.0.0.1 --port 8000

run: ingest serve

test: setup
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not browser and not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The store the evaluation questions are about: the corpus and the long-form test documents.
eval-store: setup
	$(BIN)/pm-ingest corpus tests/eval/documents --data-dir $(EVAL_DATA)

# Deal the question pool into train / dev / test by document (tests/eval/README.md).
splits: setup
	$(BIN)/python tests/eval/make_splits.py

# Refit the sentence scorer and answerability model on train, choose thresholds on dev.
train: eval-store
	$(BIN)/python -m assistant.answering.train --data-dir $(EVAL_DATA)

# Every train and dev question judged by models fitted without its document: what methods are chosen on.
crossval: eval-store
	$(BIN)/python -m assistant.answering.crossval --data-dir $(EVAL_DATA)

# Quality per split, kind and style, with the naive composer beside it. The test split is for the end
# of a piece of work: never tune on what it prints.
eval: eval-store
	$(BIN)/pm-assistant eval tests/eval/train.jsonl tests/eval/dev.jsonl tests/eval/test.jsonl --data-dir $(EVAL_DATA)

# Every benchmark, its figures collected into benchmarks/RESULTS.md (`BENCH=llm,scale` for some).
bench: eval-store
	$(BIN)/python -m benchmarks.results $(if $(BENCH),--only $(BENCH))

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache tests/artifacts
