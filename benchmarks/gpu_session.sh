#!/usr/bin/env bash
# One prepared GPU session: the GPU tests and the GPU rows of the benchmarks, in a fixed time.
#
#   OUT=/tmp/gpu-out bash benchmarks/gpu_session.sh            # on a CUDA machine (about 9 minutes)
#   PARTS=all OUT=/tmp/gpu-out bash benchmarks/gpu_session.sh  # every part, as the first session ran
#   DRY=1 OUT=/tmp/gpu-dry bash benchmarks/gpu_session.sh      # a tiny CPU rehearsal of every command
#
# Phase 1 (alone on the GPU): `pytest -m gpu`, then train() vs a bare loop (throughput ratio).
# Phase 2 (concurrently, one process each, all sharing the GPU): the accuracy/time table, LW-DNA vs
# uniform (CIFAR-10 resnet20 one process per seed, with and without distillation; Fashion-MNIST
# resnet20; mgiad-small on both), search quality at two budgets, the families side by side at equal
# params (bench_presets.py: every family preset scaled onto 50k params, 15 epochs, 3 seeds) and the
# outcome benchmark (bench_outcome.py). Every part runs under `timeout` and its benchmark's own time
# limit so that the whole session ends by $DEADLINE seconds; each part appends its finished runs to its
# own file, so a part cut short still leaves what it finished. Everything lands in $OUT/results.tgz
# (plus session.log); phase-2 wall times are taken while several processes share one GPU, so they are
# upper bounds, not solo timings. Figures of the first session: docs/benchmarks.md, "The first GPU session".
#
# PARTS (comma-separated) picks what runs: gpu-tests, throughput, table, lwdna, search-quality, presets,
# outcome, calibrate, or all. The default is what no GPU session has measured yet (after the first one,
# 2026-11-30): the outcome benchmark at OUTCOME_BUDGETS (default 100k; 50k ran on the CPU), the one-shot
# ranking fidelity (bench_outcome.py --legs calibrate at CALIBRATE_BUDGET, default 50k) and the families
# table at 50k.
#
# Optional inputs, carried next to the repository root when the machine lacks them:
#   .whl/      Python wheels (optuna and its dependencies) installed into /tmp/site;
#   .devdata/  cifar10-jpeg.tar.xz and the Fashion-MNIST *.gz files.
# Prepared on the development machine (both folders listed in .git/info/exclude), for a Python 3.12 GPU image:
#   mkdir -p .devdata && cp /usr/share/datasets/fashion-mnist/*.gz ../shared/datasets/cifar10-jpeg.tar.xz .devdata/
#   pip download -d .whl --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
#       optuna==5.0.0 sqlalchemy==2.1.9 alembic==1.20.1 Mako==1.4.3 colorlog==6.12.0 greenlet==3.5.6
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT=${OUT:-/tmp/gpu-out}
WORK=${WORK:-/tmp/gpu-work}
DEADLINE=${DEADLINE:-555}
PARTS=${PARTS:-outcome,calibrate,presets}
OUTCOME_BUDGETS=${OUTCOME_BUDGETS:-100k}
CALIBRATE_BUDGET=${CALIBRATE_BUDGET:-50k}
START=$(date +%s)
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2 MGSEARCH_CACHE_DIR=${MGSEARCH_CACHE_DIR:-/tmp/mgsearch-cache}

want() { [ "$PARTS" = all ] || [[ ",$PARTS," == *",$1,"* ]]; }
elapsed() { echo $(( $(date +%s) - START )); }
left() { local l=$(( DEADLINE - $(elapsed) )); [ "$l" -gt 1 ] && echo "$l" || echo 1; }
log() { echo "[$(elapsed)s] $*" | tee -a "$WORK/session.log"; }
finish() {
    log "done"
    cp "$WORK/session.log" "$OUT/" 2>/dev/null
    tar -czf "$OUT/results.tgz" -C "$WORK" . 2>/dev/null
}
trap finish EXIT

if [ "${DRY:-0}" = "1" ]; then
    DEV=cpu; TABLE_EPOCHS=1; TABLE_FRACTION=0.01; LW_EPOCHS=1; LW_SUBSET=256; LW_VAL=100; LW_TEST=200
    MGIAD_EPOCHS=1; SQ_TRIALS=2; SQ_FRACTION=0.01; SQ_RETRAIN_EPOCHS=1; SQ_RETRAIN_FRACTION=0.01; TP_IMAGES=256
    TP_REPEATS=1; BATCH=64; SQ_BATCH=64; SQ_SEEDS=1
    PRESET_ARGS=(--presets resnet20 --sizes 50000 --seeds 0 --epochs 1 --train-fraction 0.01)
    OUTCOME_ARGS=(--budgets "$OUTCOME_BUDGETS" --dry); DRY_FLAG=(--dry)
else
    DEV=cuda; TABLE_EPOCHS=1,5,15; TABLE_FRACTION=1.0; LW_EPOCHS=15; LW_SUBSET=0; LW_VAL=0; LW_TEST=0
    MGIAD_EPOCHS=10; SQ_TRIALS=20; SQ_FRACTION=0.2; SQ_RETRAIN_EPOCHS=12; SQ_RETRAIN_FRACTION=1.0; TP_IMAGES=12800
    TP_REPEATS=5; BATCH=512; SQ_BATCH=256; SQ_SEEDS=3
    PRESET_ARGS=(--sizes 50000 --seeds 0,1,2 --epochs 15 --train-fraction 1.0)
    OUTCOME_ARGS=(--budgets "$OUTCOME_BUDGETS" --search-minutes 3); DRY_FLAG=()
fi

# ---------------------------------------------------------------------------------------------- set-up
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$REPO
if [ -d .devdata ]; then
    mkdir -p "$REPO/../shared/datasets" /usr/share/datasets/fashion-mnist
    [ -f "$REPO/../shared/datasets/cifar10-jpeg.tar.xz" ] || cp .devdata/cifar10-jpeg.tar.xz "$REPO/../shared/datasets/"
    [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || cp .devdata/*.gz /usr/share/datasets/fashion-mnist/
fi
CIFAR="$REPO/../shared/datasets/cifar10-jpeg.tar.xz"
[ -f "$CIFAR" ] || CIFAR=/work/shared/datasets/cifar10-jpeg.tar.xz
{ nvidia-smi 2>&1 | head -15; python3 -c "import sys, torch, optuna; print(sys.version.split()[0], torch.__version__, \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no cuda', 'optuna', optuna.__version__)"; \
  nproc; } > "$WORK/machine.txt" 2>&1
log "machine: $(tail -2 "$WORK/machine.txt" | tr '\n' ' ')"

# decode both datasets once into the shared cache while the GPU tests run
python3 -c "
from mgsearch.data import load_dataset
load_dataset('cifar10', '$CIFAR'); load_dataset('fashion-mnist'); print('datasets cached')
" > "$WORK/prewarm.log" 2>&1 &
PREWARM=$!

# ------------------------------------------------------------------------------------ phase 1 (alone)
if [ "$DEV" = "cuda" ] && want gpu-tests; then
    log "pytest -m gpu"
    timeout 150 python3 -m pytest -p no:cacheprovider -q -m gpu -o addopts="" \
        tests/test_train.py tests/test_cost.py tests/search/test_runner.py > "$WORK/pytest-gpu.log" 2>&1
    log "pytest -m gpu exit $?: $(tail -1 "$WORK/pytest-gpu.log")"
fi
wait "$PREWARM"; log "prewarm: $(tail -1 "$WORK/prewarm.log")"

if want throughput; then
log "throughput train() vs bare loop (resnet20, CIFAR-10, batch 128 and $BATCH)"
for bs in 128 "$BATCH"; do
    timeout 120 python3 benchmarks/bench_train.py throughput --model resnet20 --dataset cifar10 --data-root "$CIFAR" \
        --images "$TP_IMAGES" --repeats "$TP_REPEATS" --batch-size "$bs" --device "$DEV" --threads 2 \
        > "$WORK/throughput-bs$bs.json" 2> "$WORK/throughput-bs$bs.log"
    log "throughput bs $bs exit $?: $(grep -E '"ratio_of_medians"|"bare_median"|"engine_median"' "$WORK/throughput-bs$bs.json" | tr -d '\n ')"
done
fi

# ------------------------------------------------------------------------------- phase 2 (concurrent)
log "phase 2: $(left) s left"
LW_COMMON=(--epochs "$LW_EPOCHS" --train-subset "$LW_SUBSET" --val "$LW_VAL" --test "$LW_TEST" --batch-size "$BATCH"
           --warmup-epochs 1 --threads 2 --device "$DEV" --cifar-archive "$CIFAR")
pids=()
if want table; then
timeout "$(left)" python3 benchmarks/bench_train.py table --models resnet20,mgiad-small \
    --datasets fashion-mnist,cifar10 --epochs "$TABLE_EPOCHS" --train-fraction "$TABLE_FRACTION" \
    --batch-size "$BATCH" --device "$DEV" --threads 2 --out "$WORK/table.jsonl" > "$WORK/table.log" 2>&1 &
pids+=($!)
fi
if want lwdna; then
for seed in 0 1 2; do
    timeout "$(left)" python3 benchmarks/bench_lwdna.py --datasets cifar10 --nets resnet20 --budgets 1.0,0.5 \
        --seeds 1 --first-seed "$seed" --distill both --kd-budgets 1.0 "${LW_COMMON[@]}" \
        --time-limit $(( $(left) - 90 )) --out "$WORK/lw-c10-resnet20-s$seed.jsonl" > "$WORK/lw-c10-resnet20-s$seed.log" 2>&1 &
    pids+=($!)
done
timeout "$(left)" python3 benchmarks/bench_lwdna.py --datasets fashion-mnist --nets resnet20 --budgets 1.0,0.5 \
    --seeds 3 --distill off "${LW_COMMON[@]}" --time-limit $(( $(left) - 90 )) \
    --out "$WORK/lw-fm-resnet20.jsonl" > "$WORK/lw-fm-resnet20.log" 2>&1 &
pids+=($!)
timeout "$(left)" python3 benchmarks/bench_lwdna.py --datasets cifar10,fashion-mnist --nets mgiad-small \
    --budgets 1.0,0.5 --seeds 3 --distill off "${LW_COMMON[@]}" --epochs "$MGIAD_EPOCHS" \
    --time-limit $(( $(left) - 120 )) --out "$WORK/lw-mgiad.jsonl" > "$WORK/lw-mgiad.log" 2>&1 &
pids+=($!)
fi
if want search-quality; then
for budget in 25k 50k; do
    timeout "$(left)" python3 benchmarks/bench_search_quality.py --budgets "$budget" --trials "$SQ_TRIALS" \
        --epochs 4 --train-fraction "$SQ_FRACTION" --val-fraction 0.1 --batch-size "$SQ_BATCH" \
        --retrain-epochs "$SQ_RETRAIN_EPOCHS" --retrain-fraction "$SQ_RETRAIN_FRACTION" --seeds "$SQ_SEEDS" \
        --device "$DEV" --threads 2 > "$WORK/sq-$budget.out" 2> "$WORK/sq-$budget.log" &
    pids+=($!)
done
fi
# the families side by side at equal params (issue 12); resumable: a cut run keeps its finished rows
if want presets; then
timeout "$(left)" python3 benchmarks/bench_presets.py run "${PRESET_ARGS[@]}" --batch-size "$BATCH" \
    --device "$DEV" --threads 2 --data-root "$CIFAR" --out "$WORK/presets.jsonl" > "$WORK/presets.log" 2>&1 &
pids+=($!)
fi
# the outcome benchmark (issue 14): search, baseline, confirm at its fixed protocol; cut by the deadline
if want outcome; then
timeout "$(left)" python3 benchmarks/bench_outcome.py "${OUTCOME_ARGS[@]}" --device "$DEV" \
    --work "$WORK/outcome" > "$WORK/outcome.md" 2> "$WORK/outcome.log" &
pids+=($!)
fi
# the one-shot ranking fidelity (issue 14 item 3): mgsearch calibrate of the outcome study at 50k
if want calibrate; then
timeout "$(left)" python3 benchmarks/bench_outcome.py --budgets "$CALIBRATE_BUDGET" --legs calibrate "${DRY_FLAG[@]}" \
    --device "$DEV" --work "$WORK/calibrate" > "$WORK/calibrate.md" 2> "$WORK/calibrate.log" &
pids+=($!)
fi
for pid in "${pids[@]}"; do wait "$pid"; done
log "phase 2 finished"

# ---------------------------------------------------------------------------------------- summaries
want throughput && for f in "$WORK"/throughput-bs*.json; do echo "== $f"; grep -E '"(batch_size|bare_median|engine_median|ratio_of_medians|ratio_median_paired|engine_end_to_end_median)"' "$f"; done
want table && { echo "== table"; cat "$WORK/table.jsonl" 2>/dev/null | python3 -c "
import json, sys
for l in sys.stdin:
    r = json.loads(l); print(r['model'], r['dataset'], r['epochs'], r['train_images'], round(r['val_acc'], 4),
                            round(r['test_acc'], 4), round(r['wall_seconds'], 1), round(r['images_per_second']))"; }
want lwdna && { echo "== lwdna"; python3 benchmarks/bench_lwdna.py --summarise "$WORK"/lw-*.jsonl 2>&1 | tail -30; }
want outcome && { echo "== outcome"; cat "$WORK/outcome.md" 2>/dev/null; tail -3 "$WORK/outcome.log" 2>/dev/null; }
want calibrate && { echo "== calibrate"; cat "$WORK/calibrate.md" 2>/dev/null; tail -3 "$WORK/calibrate.log" 2>/dev/null; }
want presets && { echo "== presets"; [ -f "$WORK/presets.jsonl" ] && python3 benchmarks/bench_presets.py table "$WORK/presets.jsonl"; }
want search-quality && for b in 25k 50k; do echo "== sq $b"; tail -4 "$WORK/sq-$b.log"; grep '^|' "$WORK/sq-$b.out"; done
echo "== pytest"; tail -5 "$WORK/pytest-gpu.log" 2>/dev/null
