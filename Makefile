# Two commands for a newcomer: `make serve` and `make test`. Both create the venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: serve test lint bench bench-compare bench-writes bench-scale bench-ocr chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/zhengce serve

# The eval suites run twice: on the embedded engine (gated on the floors), then on Milvus (milvus-lite),
# where every figure must also be within 1 point of the embedded run's.
test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/zhengce eval
	$(BIN)/zhengce eval --index milvus --report evals/reports/milvus --against evals/reports/report.json

lint: $(STAMP)
	$(BIN)/ruff check ingest retriever server evals tests
	$(BIN)/mypy ingest retriever server evals

bench: $(STAMP)
	$(BIN)/python -m evals.bench

# 8 readers idle, then 8 readers while one writer uploads and deletes (report in evals/reports/).
bench-writes: $(STAMP)
	$(BIN)/python -m evals.bench_writes

# OCR character error rate on the shared documents rendered as scans (150/300 dpi, clean/noisy+skewed) and
# the library questions on the PDF answered from its scanned copy (report in evals/reports/).
bench-ocr: $(STAMP)
	$(BIN)/python -m evals.bench_ocr

# Libraries of 20k and 100k chunks (SIZES="20000 100000 1000000" for a million): latency, QPS at 1 and 4
# clients, add-one and delete through the server, memory, disk, cold start, HNSW recall, bulk ingest
# (report and plot in evals/reports/; libraries kept in var/bench-scale/ for the next run).
SIZES ?= 20000 100000
bench-scale: $(STAMP)
	$(BIN)/python -m evals.bench_scale --sizes $(SIZES)

# Answer latency of this checkout against BASE (a revision), alternating in one run.
BASE ?= c450e64
bench-compare: $(STAMP)
	git worktree add --force --detach var/base $(BASE)
	$(BIN)/python -m evals.compare var/base; status=$$?; git worktree remove --force var/base; exit $$status

# The crash loop with 200 server kills instead of CI's 30 (about an hour).
chaos: $(STAMP)
	ZHENGCE_CHAOS_KILLS=200 $(BIN)/python -m pytest -q -o log_cli=true --log-cli-level=INFO tests/server/test_crash_loop.py

clean:
	rm -rf var evals/reports
