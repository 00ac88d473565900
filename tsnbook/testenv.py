"""The environments in which notebooks are tested *and* refreshed (strict nbval compares stored outputs).

`conftest.py` forces one of them before pytest starts any kernel, and `tools/refresh_notebooks.py` forces
`TEST_ENV` before re-executing the notebooks, so stored outputs always come from the settings CI uses.

`TEST_ENV` pins every numeric library the notebooks touch to the same code path on every x86-64 machine of
the project's kind (some have AVX-512 and AMX, some only AVX2), so that float results do not depend on which
machine ran them. Each pin, and why:

* ``ATEN_CPU_CAPABILITY=avx2``: torch's own CPU kernels (ATen) pick AVX-512 variants where the CPU has them;
  their sums round differently.
* ``ONEDNN_MAX_CPU_ISA=AVX2``: oneDNN (convolutions) likewise; AMX/AVX-512 kernels block differently.
* ``MKL_CBWR=AVX2``: MKL's conditional numerical reproducibility. torch's matrix products go through MKL,
  which otherwise picks its kernels by CPU: ``a @ b`` of fixed fp32 matrices gave other bits on an AVX-512
  CPU than with this pin (the ATen and oneDNN pins do not reach MKL). `tests/test_portability.py` checks it.
  This pin holds on Intel CPUs; on AMD ones MKL ignores it (see below).
* ``OPENCV_CPU_DISABLE=AVX512-SKX``: OpenCV dispatches some functions to AVX-512 kernels; at most AVX2 here.
  (Its DIS optical flow differs between its SSE4.1 and AVX2 paths, so the level matters.) Only where the CPU has
  them (`opencv_features`): OpenCV asked to disable a feature the CPU lacks prints "Trying to disable unavailable
  CPU feature" on stderr in every process that imports it - into every notebook's outputs on an AVX2-only CPU.
* ``OMP_NUM_THREADS=1`` / ``MKL_NUM_THREADS=1``: a parallel reduction's result can depend on the thread count;
  one thread per kernel also lets pytest run two notebooks at once on the 2-core CI machine.
* ``PYTHONHASHSEED=0``: set iteration order does not change between runs.

Not pinned because it needs no pin: FFmpeg (PyAV's decoding, RGB<->YUV conversion, MPEG-4 encoding) gave the
same bytes with AVX-512, AVX2 and SSE code; libx264 needs ``cpu-independent=1``, which `tsnbook.io.write_video`
always sets. The rest is the course's mode: tiny data, CPU only, no progress bars.

`PORTABLE_ENV` is the same environment with the numeric libraries moved to *another* code path, chosen by
`portable_env` from the CPU's instruction sets: where the CPU has the AVX-512 that ATen's and oneDNN's AVX-512
kernels need (F, BW, DQ, VL), their AVX-512 kernels and MKL's AVX512 branch (what such a machine runs unpinned, and
fast); else ATen's generic kernels and MKL's COMPATIBLE branch, oneDNN kept at its AVX2 pin. OpenCV goes
without AVX/AVX2/FMA and x264 without assembly in both cases.

Why oneDNN stays on an AVX2-only CPU: its only other paths there (AVX, SSE4.1) are narrower and slow, and CI runs
every notebook in this profile. On an AVX2-only 2-core EPYC, notebook 04 took 97 s pinned, 115 s in this profile,
about 180 s with oneDNN at AVX and about 245 s at SSE4.1 (those two measured beside other work: 1.9 and 2.5 times
the pinned run), and CI with SSE4.1 took 85 of its 90 minutes. What is lost: on such a CPU, an output computed by
convolutions alone (a forward pass of fixed weights) is not checked against oneDNN's other paths. What is kept:
ATen's generic kernels change a ResNet-18's training loss from its first step (another rounding of every
BatchNorm sum), so a printed figure that depends on the float bits of training shows here as well. oneDNN
itself moves on an AVX-512 CPU, which CI lands on too, and `tests/test_portability.py` probes it there.
``make test-portable`` re-runs the notebooks in it: a stored output that still matches there does not depend
on the CPU that computed it. Outputs that cannot match (a metric after many float training steps) are not
compared: the notebooks print what their asserts guarantee instead (PyTorch's reproducibility notes promise no equal
floats across platforms).

What moves depends on the CPU's *vendor* for one library. ATen, oneDNN and OpenCV choose their kernels by the
instruction sets the CPU reports, whoever made it, and IEEE arithmetic rounds alike on Intel and AMD, so they
move alike on every x86-64 CPU of the project's kind (Intel AVX2, Intel AVX-512 + AMX, AMD AVX2, AMD AVX-512;
oneDNN on the AVX-512 ones, as said above). MKL
chooses by vendor: on an AMD CPU (Zen) it takes a path of its own whatever ``MKL_CBWR`` or
``MKL_ENABLE_INSTRUCTIONS`` says (Intel documents the branches other than AUTO and COMPATIBLE for Intel CPUs
only), so there neither profile moves MKL, and ``MKL_CBWR=AVX2`` does not give Intel's AVX2 bits either (an AMD
EPYC's ``a @ b`` matched Intel's ``AVX2,STRICT`` branch instead). `tests/test_portability.py` measures, per
library, what the portable profile moves on the CPU it runs on, and requires ATen and OpenCV to move, and oneDNN
where the CPU has AVX-512.

`CUDA_ENV` (``TSNBOOK_TEST_PROFILE=cuda``, what ``tools/gpu_check.sh`` runs the ``cuda``-marked tests in) is
`TEST_ENV` with the GPU left visible: no ``CUDA_VISIBLE_DEVICES=""`` and no ``TSNBOOK_DEVICE=cpu``.
"""
#: The AVX-512 subsets that ATen's (``ATEN_CPU_CAPABILITY=avx512``) and oneDNN's AVX-512 kernels need.
AVX512_KERNELS = frozenset({"avx512f", "avx512bw", "avx512dq", "avx512vl"})
#: cpuinfo's flags for each OpenCV feature that `TEST_ENV` and `portable_env` disable (AVX2 implies AVX;
#: OpenCV's AVX512-SKX group is those kernels' subsets and CD)
OPENCV_FEATURE_FLAGS = {"AVX512-SKX": AVX512_KERNELS | {"avx512cd"}, "AVX2": {"avx2"}, "FMA3": {"fma"},
                        "AVX": {"avx"}}


def cpu_flags():
    """The instruction-set flags of this machine's CPU (``/proc/cpuinfo``; an empty set where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return set()
    return set(flags.partition(":")[2].split())


def opencv_features(names, flags):
    """``OPENCV_CPU_DISABLE``'s value: the features of ``names`` that a CPU with ``flags`` has (disabling one it
    lacks changes nothing but prints a warning), comma-separated; where /proc/cpuinfo says nothing, all of them."""
    flags = set(flags) | ({"avx"} if "avx2" in flags else set())
    return ",".join(name for name in names if not flags or OPENCV_FEATURE_FLAGS[name] <= flags)


TEST_ENV = {
    "TSNBOOK_MODE": "tiny",
    "TSNBOOK_DEVICE": "cpu",
    "CUDA_VISIBLE_DEVICES": "",
    "TQDM_DISABLE": "1",
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2",
    "OPENCV_CPU_DISABLE": opencv_features(("AVX512-SKX",), cpu_flags()),
    "TSNBOOK_X264_PARAMS": "",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
}



def portable_env(flags):
    """`TEST_ENV` with the numeric libraries on other code paths than their pins, on a CPU with these ``flags``.

    Wider where the CPU has `AVX512_KERNELS` (what the other machines of the project's kind run, and fast), else
    narrower: ATen's generic kernels and MKL's COMPATIBLE branch, oneDNN kept at AVX2 (its narrower paths made
    notebook 04 up to 2.5 times as long as pinned; see the module's notes). OpenCV and x264 go narrower in both cases
    (OpenCV's AVX-512 kernels gave the same bits as its AVX2 ones).
    """
    wide = AVX512_KERNELS <= set(flags)
    return dict(TEST_ENV,
                **(dict(ATEN_CPU_CAPABILITY="avx512", ONEDNN_MAX_CPU_ISA="AVX512_CORE_AMX", MKL_CBWR="AVX512") if wide
                   else dict(ATEN_CPU_CAPABILITY="default", MKL_CBWR="COMPATIBLE")),
                OPENCV_CPU_DISABLE=opencv_features(("AVX2", "FMA3", "AVX", "AVX512-SKX"), flags),
                TSNBOOK_X264_PARAMS="asm=0")


PORTABLE_ENV = portable_env(cpu_flags())

# The GPU check's tests: the same pins for the CPU side of each comparison, the GPU visible.
CUDA_ENV = {key: value for key, value in TEST_ENV.items() if key not in ("CUDA_VISIBLE_DEVICES", "TSNBOOK_DEVICE")}

#: notebook -> the notebook whose work_dirs it reuses: both run in one pytest-xdist group (one kernel after the
#: other, on one worker), and `tools/refresh_notebooks.py` refreshes them in that order.
NOTEBOOK_GROUPS = {"03_tsn_model": "00_quickstart", "05_evaluation": "00_quickstart",
                   "06_optical_flow_two_stream": "00_quickstart",
                   "15_data_benchmark": "00_quickstart", "18_two_stream_and_omnisource": "00_quickstart",
                   "19_your_own_videos": "00_quickstart", "20_using_a_trained_model": "00_quickstart",
                   "22_transfer_learning": "21_good_practices"}

#: ``TSNBOOK_TEST_PROFILE`` (``make test-portable`` sets it) -> environment that conftest.py forces.
PROFILES = {"default": TEST_ENV, "portable": PORTABLE_ENV, "cuda": CUDA_ENV}


def test_environment(profile=None):
    """The environment of ``profile`` ("default", "portable" or "cuda"; None: ``TSNBOOK_TEST_PROFILE``, else
    default)."""
    import os
    name = profile or os.environ.get("TSNBOOK_TEST_PROFILE") or "default"
    if name not in PROFILES:
        raise ValueError(f"TSNBOOK_TEST_PROFILE={name!r}: choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


test_environment.__test__ = False  # not a pytest test
