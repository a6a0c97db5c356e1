#!/usr/bin/env bash
# Everything the gpu backend needs checked and measured on a lent GPU machine, in stages
# that each fit one call (the machine has no network: pure-Python wheels that its image
# lacks are carried in .device/wheels).
#
#   bash benchmarks/probes/gpu_session.sh test      set up, nnxp info, the gpu-marked tests
#   bash benchmarks/probes/gpu_session.sh bench     the benchmark targets gpu-numba, gpu-reference, torch-cuda
#   bash benchmarks/probes/gpu_session.sh sweep     nnxp compare --sweep batch_size on W2 and W3 (cpu vs gpu)
#
# Logs and JSON go to $OUT (default /tmp/nnxp-gpu).
set -uo pipefail
cd "$(dirname "$0")/../.."  # the checkout
OUT=${OUT:-/tmp/nnxp-gpu}
mkdir -p "$OUT"
PY=${PY:-python3}

# nnxp from this checkout without a build (no network for build dependencies):
# src/ on the path, and nnxp.kernels pointing at kernels/ as the installed package does.
[ -e src/nnxp/kernels ] || ln -s ../../kernels src/nnxp/kernels
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if ls .device/wheels/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-deps --no-index .device/wheels/*.whl 2>&1 | tail -2
fi

case "${1:-test}" in
test)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/device.txt"
    $PY -m pip list 2>/dev/null | grep -iE "^(numpy|cupy|numba|torch|array.api|pytest)" | tee -a "$OUT/device.txt"
    $PY -c "import nnxp.cli as c; c.main(['info'])" 2>&1 | tee -a "$OUT/device.txt"
    timeout "${TEST_TIMEOUT:-420}" $PY -m pytest tests -m gpu -q -p no:cacheprovider --maxfail=25 \
        --durations=15 -W ignore::pytest.PytestUnraisableExceptionWarning 2>&1 | tee "$OUT/tests.txt" | tail -40
    ;;
bench)
    timeout "${BENCH_TIMEOUT:-540}" $PY benchmarks/run.py --targets gpu-numba gpu-reference torch-cuda \
        --threads 16 --out "$OUT" ${BENCH_K:+-k "$BENCH_K"} 2>&1 | tee "$OUT/bench.txt" | tail -60
    ;;
sweep)
    for model in W2 W3; do
        timeout 270 $PY -c "import nnxp.cli as c; c.main(['compare', '--model', '$model', '--targets', 'cpu-numba', \
            'gpu-numba', 'gpu-reference', '--epochs', '2', '--sweep', 'batch_size', '--batch-sizes', '16', '32', \
            '64', '128', '256', '512', '1024', '--out', '$OUT'])" 2>&1 | tee "$OUT/sweep-$model.txt" | tail -30
    done
    ;;
esac
