#!/usr/bin/env bash
# Regenerate every table and plot in docs/benchmarks.md (takes about an hour on 2 cores).
# MNIST: $TWINLOCK_DATA_DIR, else ../shared/data/mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DATA="${TWINLOCK_DATA_DIR:-../shared/data/mnist}"
$PY -m benchmarks.bench_training --data-dir "$DATA"
$PY -m benchmarks.core_pipeline
$PY -m benchmarks.bench_pipeline --data-dir "$DATA"
$PY -m benchmarks.bench_speed
