#!/usr/bin/env bash
# Regenerate every table and plot in docs/benchmarks.md (about two hours on 2 cores, one of them the soak).
# MNIST: $TWINLOCK_DATA_DIR, else ../shared/data/mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DATA="${TWINLOCK_DATA_DIR:-../shared/data/mnist}"
$PY -m benchmarks.bench_training --data-dir "$DATA" --threads 1
$PY -m benchmarks.bench_export --checkpoint runs/lead_any11/best.pt --data-dir "$DATA"   # the default model's checkpoint: see its card's "Reproduce" (the digits-only one: runs/camonly/best.pt)
$PY -m benchmarks.core_pipeline --count 300 --drawings 60 --data-dir "$DATA" --write docs/benchmarks.md
$PY -m benchmarks.bench_pipeline --data-dir "$DATA"
# unseen symbols: the Omniglot background set through the app's preprocessing, then the
# any-symbol model and the default on its held-out alphabets
$PY -m training.omniglot --zip ../shared/data/omniglot/images_background.zip --mnist "$DATA" --out runs/omniglot3.npz
$PY -m benchmarks.bench_symbols --omniglot runs/omniglot3.npz --data-dir "$DATA" --baseline assets/models/twinlock-digits.onnx
$PY -m benchmarks.bench_symbol_attempts --omniglot runs/omniglot3.npz --data-dir "$DATA"   # whole attempts with unseen symbols
$PY -m benchmarks.bench_passcode --omniglot runs/omniglot3.npz   # passcodes of 1-3 symbols, clean drawings
$PY -m benchmarks.bench_passcode_attempts --omniglot runs/omniglot3.npz   # passcode attempts on camera-like cards
# preprocessing alone: simulator frames, junk, every named scene kind; then the same at
# bec5a77 (before preprocessing became named steps); the real photos now and before
$PY -m benchmarks.preprocess_fta --data-dir "$DATA" --count 1000 --junk 40 --scenes 100 --write docs/benchmarks.md
$PY -m benchmarks.preprocess_fta --data-dir "$DATA" --count 1000 --junk 40 --scenes 100 --before bec5a77 --write docs/benchmarks.md
$PY -m benchmarks.bench_real_photos --photos ../shared/data/real_photos --write docs/benchmarks.md
$PY -m benchmarks.bench_real_photos --photos ../shared/data/real_photos --before bec5a77 --write docs/benchmarks.md
$PY -m benchmarks.bench_speed
$PY -m benchmarks.bench_speed --verify-latency   # whole `twinlock verify` processes
$PY -m benchmarks.bench_attempt_rule --data-dir "$DATA"   # first-n + change-of-symbol rule
QT_QPA_PLATFORM=offscreen $PY -m benchmarks.bench_soak --minutes 60   # the main window for an hour of frames
QT_QPA_PLATFORM=offscreen $PY -m benchmarks.bench_shared_db --minutes 2   # the app window + concurrent CLI verifies on one database
$PY -m benchmarks.bench_identify --data-dir "$DATA" --photos ../shared/data/real_photos --strength
$PY -m benchmarks.bench_identify --data-dir "$DATA" --photos ../shared/data/real_photos --strength --model assets/models/twinlock-digits.onnx --section identify_digits   # the digits-only model beside the default
if [ "$(id -u)" -eq 0 ]; then $PY -m benchmarks.bench_pam --runs 30; else echo "bench_pam skipped: it needs root and pamtester"; fi   # PAM unlock time
$PY -m benchmarks.bench_input_memory --write   # peak RSS for hostile inputs: .hdr, 50 MP photo, big imports
