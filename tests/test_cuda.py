"""The CUDA code paths, each against the CPU path it replaces (issue 12). ``pytest -m cuda`` on a GPU machine
(tools/gpu_check.sh runs them in the ``cuda`` test profile); skipped here, where the default profile hides GPUs.

Every test runs twice, through the ``device`` fixture: on ``cuda:0`` (marked ``cuda``) and on the CPU, in every
``make test``. The CPU variant runs the same body minus what only CUDA has (autocast, SyncBN, NCCL), so a bug in
a test's own code shows up here and not as a "GPU failure" on the first GPU machine (issue 17: three of these
could not pass on their first GPU run, for a batch without the loader's ``"failures"`` key).

What they pin down: bf16 / fp16 autocast training steps stay finite and close to fp32; channels_last changes the
memory layout, not the numbers; the GPU training augmentation draws the CPU pipeline's boxes, flips and labels;
``predict_video`` and ``evaluate_checkpoint`` give the CPU's scores (fp32 unless bf16 is asked for); two
processes on one GPU train as one process with their joint batch (NCCL, or Gloo where NCCL refuses to put two
ranks on one device), SyncBN included. Tolerances are those of the arithmetic: fp32 comparisons run with TF32
off, autocast ones allow bf16's 8-bit mantissa.
"""
import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import small_config
from tsnbook.checkpoints import plain, save_checkpoint
from tsnbook.configs import get_config
from tsnbook.data import build_dataset, collate_skipping_errors
from tsnbook.engine import evaluate_checkpoint, train
from tsnbook.factory import build_model
from tsnbook.gpu_augment import collate_padded, split_train_pipeline
from tsnbook.logs import read_log
from tsnbook.loops import train_one_epoch
from tsnbook.optim import build_optimizer
from tsnbook.predict import predict_video
from tsnbook.transforms import Compose

RGB = "tsn_r18_1x1x3_12e_synthactions_rgb"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", params=[pytest.param("cpu"), pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request):
    """``cuda:0`` under ``pytest -m cuda``; the CPU in every run (module scope: the DDP runs are made once)."""
    return torch.device("cuda", 0) if request.param == "cuda" else torch.device("cpu")


@contextlib.contextmanager
def fp32_convolutions():
    """cuDNN in true fp32: PyTorch lets convolutions use TF32 (10-bit mantissa) by default on Ampere and later,
    which is right for training but would hide a real difference behind 1e-3-sized noise in an fp32 comparison."""
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = before


def _peaked_model(cfg, seed=0):
    """A random TSN whose logits spread widely (init_std 0.3), so that probabilities are far from uniform and a
    wrong view, crop or normalisation on one device shows up in the scores."""
    torch.manual_seed(seed)
    return build_model(dict(cfg, init_std=0.3, pretrained=None)).eval()


# ------------------------------------------------------------------------------------------ AMP, channels_last
class _Log:
    def __init__(self):
        self.records = []

    def write(self, **record):
        self.records.append(record)


def _repeated_batch(steps=6, batch=8, size=64, seed=0):
    """One batch, ``steps`` times: the class is the frames' brightness (plus noise). Fitting one batch makes the
    loss fall smoothly, so fp32 and autocast runs can be compared step by step (over fresh batches a few steps
    of SGD jump around, and any rounding difference would be amplified)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 8, (batch,), generator=generator)
    noise = torch.randint(0, 40, (batch, 3, 3, size, size), generator=generator)
    imgs = (labels.view(-1, 1, 1, 1, 1) * 27 + noise).clamp(0, 255).to(torch.uint8)
    items = [dict(imgs=imgs[i], label=labels[i], index=i) for i in range(batch)]
    return [collate_skipping_errors(items)] * steps  # what the training loader yields, "failures" included


def _train_steps(amp, batches, device, channels_last=False):
    """The engine's `train_one_epoch` over ``batches``: (losses, initial and final parameters, scaler).

    fp16 goes through a GradScaler on either device; on the CPU autocast is off (the engine never autocasts
    there), so the scaler's scale / unscale / step path runs on fp32 numbers."""
    cfg = get_config(RGB, dict(amp=amp, dropout=0.0, norm_eval=True, epochs=1))
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    if channels_last:
        model.channels_last = True
        model.to(memory_format=torch.channels_last)
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    optimizer = build_optimizer(model, cfg, cfg["lr"])
    # A small initial scale: the default 2**16 may overflow fp16 on the first steps, which GradScaler handles by
    # skipping them - right in training, but the trajectories would then not be comparable step by step.
    scaler = torch.amp.GradScaler(device.type, init_scale=2.0 ** 8) if amp == "fp16" else None
    log = _Log()
    train_one_epoch(model, batches, optimizer, device, 0, cfg, log, progress=False, scaler=scaler)
    losses = [r["loss"] for r in log.records]
    end = {k: v.detach().clone() for k, v in model.named_parameters()}
    return losses, start, end, scaler


def _relative_update_error(start, end, ref_end):
    """||update - fp32 update|| / ||fp32 update||, over all trained parameters."""
    diff = sum(((end[k] - start[k]) - (ref_end[k] - start[k])).float().pow(2).sum() for k in start)
    ref = sum((ref_end[k] - start[k]).float().pow(2).sum() for k in start)
    return float((diff / ref).sqrt())


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_training_steps_are_finite_and_close_to_fp32(amp, device):
    batches = _repeated_batch()
    with fp32_convolutions():
        ref_losses, ref_start, ref_end, _ = _train_steps(None, batches, device)
    losses, start, end, scaler = _train_steps(amp, batches, device)
    assert all(torch.equal(start[k], ref_start[k]) for k in start)  # the same initial weights
    assert len(losses) == len(batches) and np.isfinite(losses).all(), losses
    assert all(torch.isfinite(v).all() for v in end.values())
    if scaler is not None:
        assert scaler.get_scale() >= 2.0 ** 8, "fp16: GradScaler skipped a step (overflow)"
    assert (np.diff(ref_losses) < 0).all(), ref_losses  # real updates: the loss falls at every step
    np.testing.assert_allclose(losses, ref_losses, rtol=0.05)
    error = _relative_update_error(start, end, ref_end)
    assert error < 0.15, f"{amp}: the weights moved {error:.3f} (relative) away from fp32's update"


def test_channels_last_changes_the_layout_not_the_numbers(device):
    cfg = get_config(RGB)
    model = _peaked_model(cfg).to(device)
    x = torch.randint(0, 256, (2, 3, 3, 112, 112), dtype=torch.uint8, device=device)
    with fp32_convolutions(), torch.no_grad():
        nchw = model(x)
        model.channels_last = True
        model.to(memory_format=torch.channels_last)
        nhwc = model(x)
    assert model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    scale = nchw.abs().max().item()
    assert (nhwc - nchw).abs().max().item() <= 1e-4 * scale
    # and a training step in that layout matches the NCHW one
    batches = _repeated_batch(steps=3)
    with fp32_convolutions():
        ref_losses, _, _, _ = _train_steps(None, batches, device)
        losses, _, _, _ = _train_steps(None, batches, device, channels_last=True)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-3)


# ---------------------------------------------------------------------------------------------- gpu_augment
def test_gpu_augment_on_cuda_draws_the_cpu_pipelines_boxes_flips_and_labels(small_synth, device):
    """The dataset path of training with ``gpu_augment``: the loader's items, padded into a batch, cropped and
    flipped on the GPU, against the CPU pipeline on the same items with the same random streams."""
    cfg = small_config("rgb", small_synth)
    cpu_set = build_dataset(cfg, "train")
    gpu_set = build_dataset(cfg, "train")
    steps, gpu = split_train_pipeline(cfg["train_pipeline"])
    gpu_set.pipeline = Compose(steps)
    for epoch in range(2):
        cpu_set.set_epoch(epoch), gpu_set.set_epoch(epoch)
        indices = list(range(len(cpu_set)))
        reference = [cpu_set.load(i, np.random.default_rng([cpu_set.seed, epoch, i])) for i in indices]
        batch = collate_padded([gpu_set[i] for i in indices])
        assert batch["errors"] == []
        assert [tuple(box) for box in batch["crop_box"].tolist()] == [tuple(r["crop_box"]) for r in reference]
        assert batch["flip"].tolist() == [bool(r["flip"]) for r in reference]
        assert batch["label"].tolist() == [int(r["label"]) for r in reference]  # MoveLeft <-> MoveRight on flips
        out = gpu(batch["imgs"].to(device, non_blocking=True), batch["crop_box"], batch["flip"])
        assert out.device == device and out.shape[2:] == (3, 40, 40)
        cpu_pixels = torch.stack([torch.from_numpy(r["imgs"]) for r in reference]).float()
        diff = (out.cpu() - cpu_pixels).abs()
        assert diff.max().item() < 1.0 and diff.mean().item() < 0.4  # cv2's 11-bit weights, uint8 rounding
        # the same op on the CPU device: the GPU adds no difference of its own
        on_cpu = gpu(batch["imgs"], batch["crop_box"], batch["flip"])
        assert (out.cpu() - on_cpu).abs().max().item() < 1e-3
    assert any(batch["flip"].tolist()) and not all(batch["flip"].tolist())


# ------------------------------------------------------------------------------------- predict and evaluate
def test_predict_video_on_cuda_equals_the_cpu(small_synth, device):
    """The zoo's 25x3 views (75 crops of 256) and the config's own protocol, on both devices."""
    cfg = get_config(RGB)
    model = _peaked_model(cfg)
    video = sorted((small_synth / "videos").rglob("*.mp4"))[0]
    cpu_prob = predict_video(model, video, protocol="25x3", average_clips="prob")
    cpu_score = predict_video(model, video, cfg=cfg, average_clips="score")  # 10 clips x ThreeCrop 48
    model.to(device)
    cuda_prob = predict_video(model, video, protocol="25x3", average_clips="prob")  # PyTorch's defaults (TF32)
    with fp32_convolutions():
        cuda_score = predict_video(model, video, cfg=cfg, average_clips="score")
    assert cpu_prob.max() > 0.5  # a peaked distribution: a wrong view would move it
    assert np.abs(cuda_prob - cpu_prob).max() <= 1e-3
    assert np.abs(cuda_score - cpu_score).max() <= 1e-4 * np.abs(cpu_score).max()


def test_evaluate_checkpoint_on_cuda_is_fp32_unless_bf16_is_asked_for(small_synth, tmp_path, device):
    cfg = small_config("rgb", small_synth, test_clips=3)
    model = _peaked_model(cfg)
    save_checkpoint(tmp_path / "random.pth", dict(model=model.state_dict(), epoch=0, cfg_name=cfg["name"],
                                                  cfg=plain(cfg)))
    cpu_scores, labels, cpu_report, _ = evaluate_checkpoint(cfg, tmp_path / "random.pth", device="cpu",
                                                            progress=False)
    with fp32_convolutions():
        scores, cuda_labels, report, skipped = evaluate_checkpoint(cfg, tmp_path / "random.pth", device=device,
                                                                   progress=False)
    assert report["precision"] == "fp32" and cpu_report["precision"] == "fp32" and skipped == []
    assert list(cuda_labels) == list(labels)
    scale = np.abs(cpu_scores).max()
    assert np.abs(scores - cpu_scores).max() <= 1e-4 * scale
    bf16_scores, _, bf16_report, _ = evaluate_checkpoint(cfg, tmp_path / "random.pth", device=device,
                                                         progress=False, amp="bf16")
    assert bf16_report["precision"] == ("bf16" if device.type == "cuda" else "fp32")  # no autocast on the CPU
    assert np.abs(bf16_scores - cpu_scores).max() <= 5e-2 * scale
    assert (bf16_scores.argmax(1) == cpu_scores.argmax(1)).mean() >= 0.75


@pytest.mark.parametrize("amp", ["fp16", "auto"])
def test_training_precision_is_logged_and_fp16_keeps_its_grad_scaler(tmp_path, small_synth, device, amp, capsys):
    """`train` on CUDA: fp16 (asked for, or "auto" below compute capability 8.0) has a GradScaler, saved with the
    checkpoint so that a resume continues it; "auto" is bf16 from 8.0 on. The precision is printed once and
    written to log.jsonl. On the CPU: fp32, no scaler, no precision line (a note when fp16 was asked for)."""
    cfg = small_config("rgb", small_synth, epochs=1, amp=amp)
    summary = train(cfg, tmp_path, device=device, progress=False, validate=False)
    expected = "fp32"
    if device.type == "cuda":
        expected = "fp16" if amp == "fp16" or torch.cuda.get_device_capability(device) < (8, 0) else "bf16"
    state = torch.load(tmp_path / "latest.pth", weights_only=True)
    assert summary["epochs"] == 1 and ("scaler" in state) == (expected == "fp16")
    if expected == "fp16":
        assert state["scaler"]["scale"] > 0
    log = read_log(tmp_path / "log.jsonl")
    assert [r["precision"] for r in log if r["mode"] == "config"] == [expected]
    losses = [r["loss"] for r in log if r["mode"] == "train"]
    assert losses and np.isfinite(losses).all()
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("training precision")]
    assert len(printed) == (device.type == "cuda") and all(expected in line for line in printed), printed


# --------------------------------------------------------------------------------- two processes, one GPU
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(work_dir, data_root, backend, device, **overrides):
    """``torchrun --nproc_per_node 2 -m tsnbook train`` with both processes on ``device`` (2 x 8 videos, 1 step)."""
    options = dict(dict(data_root=str(data_root), batch_size=8, dropout=0.0, lr_steps=[1], epochs=1,
                        lr_base_batch=8, dist_timeout=60), **overrides)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(_free_port()), "-m", "tsnbook", "train", RGB, "--work-dir", str(work_dir), "--no-progress",
               "--device", str(device), "--deterministic", "--cfg-options",
               *[f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in options.items()]]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", TSNBOOK_DIST_BACKEND=backend)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def one_gpu_backend(tmp_path_factory, small_synth, device):
    """NCCL if it accepts two ranks on one GPU (NCCL >= 2.5 usually refuses: "Duplicate GPU detected"), else
    Gloo, which reduces CUDA tensors too (the CPU: Gloo). Returns (backend, the finished DDP run's folder, its
    output)."""
    folder = tmp_path_factory.mktemp("ddp_one_gpu")
    for backend in ("nccl", "gloo") if device.type == "cuda" else ("gloo",):
        done = _torchrun(folder / backend, small_synth, backend, device, norm_eval=True)
        if done.returncode == 0:
            return backend, folder / backend, done.stdout
        if backend == "gloo" or "nccl" not in (done.stdout + done.stderr).lower():
            pytest.fail(f"2-process DDP on one GPU failed with {backend}:\n{done.stdout}\n{done.stderr[-3000:]}")
        print(f"NCCL refused two ranks on one GPU, using Gloo: {done.stderr.strip().splitlines()[-1][:300]}")


def _single_run(folder, data_root, device, **overrides):
    """The same epoch as one process with the joint batch of 16 (lr_base_batch 8 doubles the lr: total 16)."""
    cfg = small_config("rgb", data_root, batch_size=16, dropout=0.0, lr_steps=[1], epochs=1, lr_base_batch=8,
                       **overrides)
    train(cfg, folder, device=device, progress=False, validate=False, deterministic=True)
    return torch.load(folder / "latest.pth", weights_only=True)["model"]


def _max_relative_difference(a, b, keys):
    return max(((a[k].float() - b[k].float()).abs().max() / b[k].float().abs().max().clamp_min(1e-8)).item()
               for k in keys)


def test_two_processes_on_one_gpu_train_as_one(one_gpu_backend, small_synth, tmp_path, record_property, device):
    backend, run, stdout = one_gpu_backend
    record_property("ddp_backend", backend)
    assert "linear lr scaling: lr 0.01 x 2 process(es) x 8 videos / lr_base_batch 8 = 0.02" in stdout
    with fp32_convolutions():
        single = _single_run(tmp_path / "single", small_synth, device, norm_eval=True)
    ddp = torch.load(run / "latest.pth", weights_only=True)["model"]
    assert single.keys() == ddp.keys()
    weights = [k for k in single if single[k].is_floating_point()]
    assert _max_relative_difference(ddp, single, weights) < 1e-3


def test_sync_bn_makes_two_half_batches_one_batch(one_gpu_backend, small_synth, tmp_path, device):
    """BN in training mode: with SyncBN the statistics of 2 x 8 videos are those of 16 (weights and running
    statistics as one process); without it each rank normalises with its own half, and rank 0's running
    statistics are its half's. (SyncBN is CUDA's only: the CPU variant runs the half without it.)"""
    backend = one_gpu_backend[0]
    with fp32_convolutions():
        single = _single_run(tmp_path / "single", small_synth, device)
    stats = [k for k in single if k.endswith(("running_mean", "running_var"))]
    results = {}
    for sync in (True, False) if device.type == "cuda" else (False,):
        done = _torchrun(tmp_path / f"sync_{sync}", small_synth, backend, device, sync_bn=sync)
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        results[sync] = torch.load(tmp_path / f"sync_{sync}" / "latest.pth", weights_only=True)["model"]
    if True in results:
        assert results[True].keys() == single.keys()  # SyncBatchNorm keeps BatchNorm2d's key names
        assert _max_relative_difference(results[True], single, stats) < 1e-3
        weights = [k for k in single if k.endswith("weight")]
        assert _max_relative_difference(results[True], single, weights) < 1e-3
    assert _max_relative_difference(results[False], single, stats) > 1e-2  # the test can tell the difference
