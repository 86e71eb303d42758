#!/usr/bin/env bash
# The GPU tier of the study (docs/study.md): text-gpt (a 6-layer GPT, 5000 steps at the full budget,
# on the Python standard library's source) under the main schedules, every budget, 3 peak LRs, 4 seeds
# (SEEDS), the language model's seeds in the CPU study; the page judges it the same way, on held-out loss.
#
#   benchmarks/gpu_study.sh [RESULTS_DIR]        # default gpu-results
#   budgetlr results --out study-results --gpu gpu-results --write docs/study.md
#
# Several trials share the GPU at once (WORKERS processes; the model is small). The sweep is resumable:
# LIMIT seconds (default 540) stop it cleanly, and running the script again continues where it stopped;
# its 480 trials (10 schedules x 4 budgets x 3 LRs x 4 seeds) may take several such sittings.
# Needs torch with CUDA, numpy, matplotlib, tqdm and scipy in $PYTHON (default: .venv/bin/python, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-results}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
WORKERS=${WORKERS:-8}
LIMIT=${LIMIT:-540}
SEEDS=${SEEDS:-0,1,2,3}
SCHEDULES=${SCHEDULES:-"uba(phi=0.5, warmup=0.05),uba(warmup=0.05),uba(phi=4.0, warmup=0.05),cosine(warmup=0.05),linear(warmup=0.05),wsd(decay=0.2, shape=1-sqrt, warmup=0.05),rex(warmup=0.05),schedulefree(warmup=0.05),step(warmup=0.05),constant(warmup=0.05)"}
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}

"$PYTHON" - <<'PY'
import torch
assert torch.cuda.is_available(), "gpu_study.sh needs a CUDA GPU"
print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
PY
nvidia-smi --query-gpu=name,memory.used,memory.total,utilization.gpu --format=csv || true

# Worker processes use the GPU; one CPU thread each, as on the CPU tier.
set +e
timeout --signal=INT "$LIMIT" "$PYTHON" -m budgetlr bench --workload text-gpt --schedules "$SCHEDULES" \
  --budgets 0.1,0.25,0.5,1.0 --seeds "$SEEDS" --workers "$WORKERS" --out "$OUT" --no-report --quiet
status=$?
set -e
if [ "$status" -ne 0 ]; then
  echo "sweep stopped (exit $status) after ${LIMIT}s: run the script again to continue"
fi
"$PYTHON" -m budgetlr report --out "$OUT"
"$PYTHON" -m budgetlr export --out "$OUT" "$OUT/trials.csv"
echo "table: $OUT/report.md"
