"""The one environment in which notebooks are tested *and* refreshed (strict nbval compares stored outputs).

`conftest.py` forces it before pytest starts any kernel, and `tools/refresh_notebooks.py` forces it before
re-executing the notebooks, so stored outputs always come from the same settings as the CI run: tiny mode,
CPU only, no progress bars, fixed hash seed and thread count, and AVX2 kernels even on CPUs that have AVX-512
(so float results do not depend on which x86 machine ran them).
"""
TEST_ENV = {
    "TSNBOOK_MODE": "tiny",
    "TSNBOOK_DEVICE": "cpu",
    "CUDA_VISIBLE_DEVICES": "",
    "TQDM_DISABLE": "1",
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "2",
    "MKL_NUM_THREADS": "2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
}
