"""The same seed gives the same bytes and the same floats on every x86-64 machine of the project's kind.

Machines of one kind differ in their CPUs (Intel with AVX2 only or with AVX-512 and AMX, AMD with AVX2 or
AVX-512). Libraries with SIMD code paths pick one by CPU, and some paths round differently: stored notebook
outputs recorded on one machine then fail on the next. `tsnbook.testenv` pins each such library; these tests
compare a pinned run with a run forced onto another code path, so each fails on a machine where the pin matters
when the pin is removed.

The portable profile (``make test-portable``) is checked per library: one small computation each for ATen,
oneDNN, MKL and OpenCV (`PROBES`), run under both profiles; the test names the libraries that moved on this CPU.
ATen and OpenCV must move everywhere, oneDNN where the CPU has AVX-512 (on an AVX2-only CPU the profile keeps its
pin: `tsnbook.testenv`): they dispatch on the instruction sets, so the profile each kind of CPU gets can be run here
too. MKL dispatches on the vendor and does not move on AMD CPUs, where it ignores
``MKL_CBWR``: an AMD EPYC failed the old MKL-only check (``'edf43b6a76220866' != 'edf43b6a76220866'``), and a
shim that makes MKL take its AMD path on an Intel CPU (`as_on_amd`) reproduces that failure exactly.
"""
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tsnbook.io import write_video
from tsnbook.testenv import AVX512_KERNELS, PORTABLE_ENV, TEST_ENV, cpu_flags, portable_env


def panning_clip(num_frames=48, width=160, height=120):
    """A textured wall panning one pixel per frame: x264's motion search has real choices to make."""
    coarse = np.random.default_rng(0).integers(40, 220, (height // 4 + 2, (width + num_frames) // 4 + 2, 3))
    wall = cv2.resize(coarse.astype(np.uint8), (width + num_frames + 8, height + 8), interpolation=cv2.INTER_LINEAR)
    return np.stack([wall[4:4 + height, t:t + width] for t in range(num_frames)])


def test_x264_output_does_not_depend_on_its_simd_code(tmp_path, monkeypatch):
    # Without x264's cpu-independent=1 (set by write_video) this clip is 11,999 bytes with SIMD and 11,968
    # without (asm=0) on an AVX-512 machine; with it, both are the same stream.
    frames = panning_clip()
    monkeypatch.setenv("TSNBOOK_X264_PARAMS", "")
    write_video(tmp_path / "simd.mp4", frames)
    monkeypatch.setenv("TSNBOOK_X264_PARAMS", "asm=0")
    write_video(tmp_path / "plain_c.mp4", frames)
    assert (tmp_path / "simd.mp4").read_bytes() == (tmp_path / "plain_c.mp4").read_bytes()


def test_x264_params_of_the_caller_are_kept(tmp_path, monkeypatch):
    import av
    monkeypatch.setenv("TSNBOOK_X264_PARAMS", "")
    write_video(tmp_path / "gop.mp4", panning_clip(24), **{"x264-params": "keyint=6:scenecut=0"})
    with av.open(str(tmp_path / "gop.mp4")) as container:
        keyframes = [i for i, frame in enumerate(container.decode(video=0)) if frame.key_frame]
    assert keyframes == [0, 6, 12, 18]


NUMERICS = """
import hashlib, json, torch
torch.manual_seed(0)
a, b = torch.randn(257, 513), torch.randn(513, 129)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 14 * 14, 5))
x, y = torch.randn(6, 3, 16, 16), torch.tensor([0, 1, 2, 3, 4, 0])
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
for _ in range(3):
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    optimizer.step()
digest = lambda t: hashlib.sha256(t.detach().numpy().tobytes()).hexdigest()[:16]
print(json.dumps(dict(matmul=digest(a @ b), linear=digest(torch.nn.functional.linear(a, b.T)),
                      trained=digest(torch.cat([p.flatten() for p in net.parameters()])))))
"""


def _numerics(env):
    result = subprocess.run([sys.executable, "-c", NUMERICS], env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=120, check=True)
    return json.loads(result.stdout)


def test_torch_matrix_products_are_pinned_to_the_avx2_path():
    # MKL_ENABLE_INSTRUCTIONS=AVX2 makes MKL behave as on a CPU without AVX-512: the test environment must give
    # the same bits (MKL_CBWR=AVX2 does that; without it an AVX-512 CPU gives other bits for a @ b).
    pinned = _numerics(TEST_ENV)
    as_on_an_avx2_cpu = _numerics(dict(TEST_ENV, MKL_ENABLE_INSTRUCTIONS="AVX2"))
    assert pinned == as_on_an_avx2_cpu


#: One computation per numeric library, done by that library alone; the inputs come from numpy's generator (no SIMD
#: code paths), so a digest changes only when its own library takes another path.
PROBES = """
import hashlib, json
import cv2, numpy as np, torch
from tsnbook.flow import make_flow_fn
rng = np.random.default_rng(0)
digest = lambda array: hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]
normal = lambda *shape: torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
x, images, kernels = normal(64, 1031), normal(2, 16, 28, 28), normal(32, 16, 3, 3)
a, b = normal(257, 513), normal(513, 129)
wall = cv2.resize(rng.integers(0, 256, (34, 42), dtype=np.uint8), (168, 136), interpolation=cv2.INTER_CUBIC)
before, after = np.ascontiguousarray(wall[4:132, 4:164]), np.ascontiguousarray(wall[5:133, 6:166])
print(json.dumps({
    "ATen": digest(torch.cat([x.softmax(1), x.log_softmax(1)])),  # its own vectorised kernels
    "oneDNN": digest(torch.nn.functional.conv2d(images, kernels, padding=1)),  # convolutions
    "MKL": digest(a @ b),  # matrix products
    "OpenCV": digest(make_flow_fn("dis")(before, after)),  # the DIS flow the course extracts
}))
"""
#: The CPUs of the project's kind, by what the portable profile looks at (Intel and AMD alike).
CPU_KINDS = {"AVX2 only": {"avx2", "fma"}, "AVX-512": {"avx2", "fma", "avx512cd", *AVX512_KERNELS}}


def isa_dispatched(flags):
    """The libraries that choose their kernels by the instruction sets a CPU with ``flags`` reports (never by its
    vendor) and that the portable profile must move there: oneDNN only with AVX-512 (`tsnbook.testenv`: on an
    AVX2-only CPU it keeps its pin, its narrower paths being too slow for CI)."""
    return ("ATen", "OpenCV") + (("oneDNN",) if AVX512_KERNELS <= set(flags) else ())


@functools.lru_cache(maxsize=None)
def _probe(env_items):
    result = subprocess.run([sys.executable, "-c", PROBES], env={**os.environ, **dict(env_items)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def moved_libraries(env, baseline=TEST_ENV):
    """The libraries whose probe gives other bits under ``env`` than under ``baseline`` on this CPU."""
    moved, pinned = _probe(tuple(sorted(env.items()))), _probe(tuple(sorted(baseline.items())))
    return [library for library in moved if moved[library] != pinned[library]]


def _this_cpu():
    try:
        text = open("/proc/cpuinfo").read(100_000)
    except OSError:
        return "unknown CPU"
    field = lambda name: next((line.partition(":")[2].strip() for line in text.splitlines()
                               if line.startswith(name)), "?")
    return f"{field('vendor_id')}, {field('model name')}"


def test_the_portable_profile_really_takes_other_code_paths():
    # make test-portable is only a check if its numbers can differ. ATen and OpenCV must move on every CPU, oneDNN
    # on one with AVX-512; MKL moves on Intel CPUs only (on AMD it takes its Zen path whatever MKL_CBWR says).
    assert PORTABLE_ENV.keys() == TEST_ENV.keys()
    moved = moved_libraries(PORTABLE_ENV)
    unmoved = [library for library in _probe(tuple(sorted(TEST_ENV.items()))) if library not in moved]
    summary = (f"on this CPU ({_this_cpu()}) the portable profile moves {', '.join(moved) or 'nothing'}; "
               f"unmoved: {', '.join(unmoved) or 'none'} (x264: the same bytes by design)")
    print(summary)
    assert set(isa_dispatched(cpu_flags())) <= set(moved), summary


@pytest.mark.parametrize("kind", CPU_KINDS)
def test_every_kind_of_cpu_gets_a_portable_profile_that_moves(kind):
    # ATen, oneDNN and OpenCV dispatch on instruction sets, so the profile `portable_env` makes for that kind takes
    # here the very kernels it takes on an Intel or AMD CPU of the kind (IEEE arithmetic rounds alike on both).
    if not CPU_KINDS[kind] <= cpu_flags():
        pytest.skip(f"this CPU cannot run the code paths of the {kind} kind")
    moved = moved_libraries(portable_env(CPU_KINDS[kind]))
    assert set(isa_dispatched(CPU_KINDS[kind])) <= set(moved), f"{kind}: the portable profile moves only {moved}"
    if "oneDNN" not in isa_dispatched(CPU_KINDS[kind]):
        assert "oneDNN" not in moved, f"{kind}: oneDNN moved, though the profile keeps its pin"


@pytest.fixture(scope="module")
def as_on_amd(tmp_path_factory):
    """LD_PRELOAD of a shim that makes torch's MKL believe it runs on an AMD Zen CPU (MKL asks its own
    ``mkl_serv_intel_cpu*`` and ``mkl_serv_cpuiszen`` functions, which the shim answers). On this Intel Xeon it
    reproduced the AMD EPYC report exactly: the old check's ``'edf43b6a76220866' != 'edf43b6a76220866'``."""
    import ctypes

    import torch
    library, compiler = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so", shutil.which("cc")
    if compiler is None or not library.exists() or not hasattr(ctypes.CDLL(str(library)), "mkl_serv_cpuiszen"):
        pytest.skip("needs a C compiler and torch's MKL with its vendor checks exported")
    folder = tmp_path_factory.mktemp("amd")
    (folder / "zen.c").write_text("int mkl_serv_intel_cpu_true(void) { return 0; }\n"
                                  "int mkl_serv_intel_cpu(void) { return 0; }\n"
                                  "int mkl_serv_cpuiszen(void) { return 1; }\n")
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(folder / "zen.so"), str(folder / "zen.c")], check=True)
    return dict(LD_PRELOAD=str(folder / "zen.so"))


def test_the_check_holds_where_mkl_ignores_its_branch(as_on_amd):
    # The AMD report: MKL gave the same bits under both profiles. The check must still find the others moving.
    moved = moved_libraries(dict(PORTABLE_ENV, **as_on_amd), dict(TEST_ENV, **as_on_amd))
    assert "MKL" not in moved, "the shim did not take MKL to its Zen path: this test checks nothing"
    assert set(isa_dispatched(cpu_flags())) <= set(moved), moved


def test_the_data_generators_are_cpu_independent(tmp_path):
    # SynthActions' videos from the same seed are byte-identical under the portable profile (x264 without
    # assembly, OpenCV without AVX/AVX2/FMA): the dataset is the same on every machine.
    script = ("import sys, json; from tsnbook.course import synth; "
              "m = synth.generate(sys.argv[1], groups=1, clips_per_group=1, test_groups=0); "
              "print(json.dumps(m['files']))")
    hashes = [subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], env={**os.environ, **env},
                             capture_output=True, text=True, timeout=120, check=True).stdout
              for name, env in (("pinned", TEST_ENV), ("portable", PORTABLE_ENV))]
    assert json.loads(hashes[0]) == json.loads(hashes[1]) and len(json.loads(hashes[0])) == 8


@pytest.mark.parametrize("profile", ["TEST_ENV", "PORTABLE_ENV"])
def test_opencv_is_never_asked_to_disable_a_feature_this_cpu_lacks(profile):
    # OPENCV_CPU_DISABLE=AVX512-SKX on a CPU without AVX-512 (an AVX2 EPYC) makes every process that imports cv2
    # print "Trying to disable unavailable CPU feature" on stderr: into every notebook's stored outputs, which the
    # machines with AVX-512 then do not reproduce (and the other way round)
    env = dict(os.environ, **{"TEST_ENV": TEST_ENV, "PORTABLE_ENV": PORTABLE_ENV}[profile])
    done = subprocess.run([sys.executable, "-c", "import cv2; cv2.getCPUFeaturesLine()"], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "unavailable CPU feature" not in done.stderr, done.stderr


@pytest.mark.parametrize("kind", CPU_KINDS)
def test_the_opencv_features_disabled_are_those_a_cpu_of_the_kind_has(kind):
    from tsnbook.testenv import opencv_features
    pinned = {"AVX2 only": "", "AVX-512": "AVX512-SKX"}[kind]  # TEST_ENV's: at most AVX2
    moved = {"AVX2 only": "AVX2,FMA3,AVX", "AVX-512": "AVX2,FMA3,AVX,AVX512-SKX"}[kind]  # the portable profile's
    assert opencv_features(("AVX512-SKX",), CPU_KINDS[kind]) == pinned
    assert portable_env(CPU_KINDS[kind])["OPENCV_CPU_DISABLE"] == moved
    assert opencv_features(("AVX512-SKX", "AVX2"), {"avx2"}) == "AVX2"
    assert opencv_features(("AVX512-SKX",), {"avx2", "fma", "avx"}) == ""
