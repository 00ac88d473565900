"""The same seed gives the same bytes and the same floats on every x86-64 machine of the project's kind.

Machines of one kind differ in their CPUs (AVX2 only, or AVX-512 and AMX). Libraries with SIMD code paths pick
one by CPU, and some paths round differently: stored notebook outputs recorded on one machine then fail on the
next. `tsnbook.testenv` pins each such library; these tests compare a pinned run with a run forced onto another
code path, so each fails on a machine where the pin matters when the pin is removed.
"""
import json
import os
import subprocess
import sys

import cv2
import numpy as np

from tsnbook.io import write_video
from tsnbook.testenv import PORTABLE_ENV, TEST_ENV


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


def test_the_portable_profile_really_takes_other_code_paths():
    # make test-portable is only a check if its numbers can differ: MKL's COMPATIBLE path rounds differently.
    assert _numerics(PORTABLE_ENV)["matmul"] != _numerics(TEST_ENV)["matmul"]
    assert PORTABLE_ENV.keys() == TEST_ENV.keys()


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
