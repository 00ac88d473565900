#!/usr/bin/env bash
# tools/gpu_check.sh [--out FILE] [--budget SECONDS]: every CUDA code path of tsnbook and its GPU figures, in one
# go, on a machine with an NVIDIA GPU (issue 12). On a machine without one it says so in one line, runs nothing,
# and exits 0.
#
# 1. Finds a GPU without Python (nvidia-smi, /dev/nvidia*); CUDA_VISIBLE_DEVICES="" or -1 counts as none.
# 2. Sets up Python, using what is there (the first that works):
#    - $TSNBOOK_PYTHON, as it is;
#    - .venv/bin/python, when it imports everything and torch sees the GPU (a clone where `make setup` ran);
#    - the system's python3, when its torch sees the GPU (GPU images ship one): the few packages it lacks
#      (PyAV, OpenCV, tqdm, pytest-xdist, ...) are installed into a temporary folder from wheels in .whl/ when
#      that folder exists (a machine that cannot reach a package registry), else from the registry;
#    - otherwise `make setup` (a fresh clone on a machine with a registry), then .venv/bin/python.
#    For a machine with no registry, fetch the wheels on one that has one, from the repository root:
#      python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#          --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl av==18.1.0
#    (--python-version: the GPU machine's; add any other package step 2 reports missing) and carry .whl/ along.
# 3. Runs tools/gpu_check.py with it: the cuda-marked tests, bench-model, the training step and bench-data, in at
#    most --budget seconds (default 480), into one JSON report (--out, default work_dirs/gpu_check/report.json).
#    Exit status: 0 when every check passed, 1 when one failed, 2 when the environment could not be set up.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# ---------------------------------------------------------------------------------------------- 1. a GPU?
if [ "${CUDA_VISIBLE_DEVICES+set}" = set ] && { [ -z "$CUDA_VISIBLE_DEVICES" ] || [ "$CUDA_VISIBLE_DEVICES" = "-1" ]; }; then
    echo "gpu-check: no CUDA GPU visible (CUDA_VISIBLE_DEVICES='$CUDA_VISIBLE_DEVICES' hides them all): nothing to check, nothing was run"
    exit 0
fi
gpus=0
if command -v nvidia-smi >/dev/null 2>&1; then
    gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
elif compgen -G "/dev/nvidia[0-9]*" >/dev/null; then
    gpus=$(compgen -G "/dev/nvidia[0-9]*" | wc -l)
fi
if [ "$gpus" -eq 0 ]; then
    echo "gpu-check: no CUDA GPU on this machine (no nvidia-smi listing one, no /dev/nvidia*): nothing to check, nothing was run"
    exit 0
fi
echo "gpu-check: $gpus NVIDIA GPU(s) found; setting up Python"

# ------------------------------------------------------------------------------------------ 2. a Python
started=$(date +%s)
REQUIRED="torch torchvision numpy cv2 av tqdm pytest xdist"
declare -A PACKAGE=([cv2]=opencv-contrib-python-headless [av]=av [tqdm]=tqdm [pytest]=pytest [xdist]=pytest-xdist
                    [numpy]=numpy)
missing_modules() {  # the modules of $REQUIRED that python $1 cannot import
    "$1" - $REQUIRED <<'EOF' 2>/dev/null
import importlib.util, sys
print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))
EOF
}
sees_gpu() { "$1" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1; }
registry_reachable() {  # one tiny download through pip's own configuration (index, mirror, proxy)
    local probe
    probe=$(mktemp -d)
    timeout 60 "$1" -m pip download -q --no-deps --no-cache-dir --disable-pip-version-check --timeout 10 \
        --retries 0 -d "$probe" "tqdm==$(grep '^tqdm==' constraints.txt | cut -d= -f3)" >/dev/null 2>&1
    local status=$?
    rm -rf "$probe"
    return $status
}

PY="" SETUP=""
if [ -n "${TSNBOOK_PYTHON:-}" ]; then
    PY=$TSNBOOK_PYTHON SETUP="TSNBOOK_PYTHON=$TSNBOOK_PYTHON"
elif [ -x .venv/bin/python ] && [ -z "$(missing_modules .venv/bin/python)" ] && sees_gpu .venv/bin/python; then
    PY=.venv/bin/python SETUP=".venv (existing)"
elif command -v python3 >/dev/null 2>&1 && sees_gpu python3; then
    PY=python3 SETUP="system python3 ($(python3 -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)'))"
    missing=$(missing_modules python3)
    if [ -n "$missing" ]; then
        SITE=$(mktemp -d "${TMPDIR:-/tmp}/tsnbook-gpu-check-site.XXXXXX")
        if compgen -G ".whl/*.whl" >/dev/null; then
            echo "gpu-check: installing .whl/*.whl into $SITE (missing: $missing)"
            python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --disable-pip-version-check \
                --target "$SITE" .whl/*.whl 2>&1 | grep -v "^WARNING: Location" || true
            SETUP="$SETUP + wheels from .whl/"
        elif registry_reachable python3; then
            packages=""
            for module in $missing; do packages="$packages ${PACKAGE[$module]:-$module}"; done
            echo "gpu-check: installing$packages into $SITE from the package registry"
            # shellcheck disable=SC2086
            python3 -m pip install -q --no-deps --no-cache-dir --disable-pip-version-check -c constraints.txt \
                --target "$SITE" $packages 2>&1 | grep -v "^WARNING: Location" || true
            SETUP="$SETUP + $packages from the registry"
        fi
        export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    fi
elif registry_reachable "$(command -v python3 || echo python3)"; then
    echo "gpu-check: no Python with a CUDA torch here: make setup (installs .venv, a few minutes)"
    make setup || { echo "gpu-check: make setup failed (output above)"; exit 2; }
    PY=.venv/bin/python SETUP="make setup"
else
    echo "gpu-check: no Python whose torch sees the GPU, and no package registry to install one: set TSNBOOK_PYTHON"
    exit 2
fi
missing=$(missing_modules "$PY")
if [ -n "$missing" ]; then
    echo "gpu-check: $PY cannot import: $missing. Bring their wheels in .whl/ (see the header of $0) or install them"
    exit 2
fi
if ! sees_gpu "$PY"; then
    echo "gpu-check: $PY imports torch $("$PY" -c 'import torch; print(torch.__version__)'), which does not see the GPU (a CPU-only build?)"
    exit 2
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's tsnbook, whatever is installed
export TSNBOOK_GPU_CHECK_SETUP="$SETUP" TSNBOOK_GPU_CHECK_SETUP_SECONDS=$(( $(date +%s) - started ))
echo "gpu-check: Python: $SETUP ($TSNBOOK_GPU_CHECK_SETUP_SECONDS s)"

# ------------------------------------------------------------------------------------------ 3. the checks
exec "$PY" tools/gpu_check.py "$@"
