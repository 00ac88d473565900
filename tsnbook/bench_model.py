"""``python -m tsnbook bench-model CONFIG``: how fast a config's TSN runs, the data pipeline left out.

The zoo's "inference_time (video/s)" column comes from MMAction2's ``tools/analysis/benchmark.py`` (0.x):
random weights, batch 1, the row's own test pipeline's views, 5 warm-up iterations, CUDA synchronised around
each timed forward (which includes the host-to-device copy). This module measures the same thing on synthetic
uint8 input of the protocol's view shape ``[batch, views, C, H, W]`` (uint8 is what tsnbook's loaders deliver;
the model normalises on the device): by default the config's own test protocol, a named one at the model's sizes
(as ``test --protocol`` applies it: a model trained on 48-px frames gets 48-px views, not the zoo's 224), and
without that script's slip: every timed iteration is counted once (it adds the 200th iteration's time twice, so
its rate is 195 iterations over the time of 196).

On CUDA it also reports the peak memory, and with ``--amp`` / ``--channels-last`` the autocast and NHWC
variants next to fp32 (autocast in the dtype training would use: the config's ``amp``, by default bf16 from
compute capability 8.0 and fp16 below, `tsnbook.loops.autocast_precision`). On the CPU only fp32 runs (bf16
autocast is slow there), with the same figures.
``--train`` times a training step (forward, loss, backward, SGD step) on ``[batch, num_segments, C, I, I]``
instead, I the config's training input size (`tsnbook.pipelines.model_sizes`: the zoo's 224 unless it says).
The last line printed is a JSON object with everything.
"""
import json
import statistics
import time

import torch
import torch.nn.functional as F

from .configs import option
from .loops import autocast_precision
from .pipelines import model_sizes, num_views, protocol_of, protocol_settings
from .utils import best_device


def _amp_dtype(cfg, device):
    """The dtype of the "amp" variants: what training would autocast to on ``device`` ("auto" if amp is None)."""
    return torch.float16 if autocast_precision(option(cfg, "amp") or "auto", device) == "fp16" else torch.bfloat16


def _variants(device, amp, channels_last):
    """(name, autocast dtype or None, channels_last) to time: fp32 always; the rest on CUDA only."""
    variants = [("fp32", False, False)]
    if device.type == "cuda":
        if amp:
            variants.append(("amp", True, False))
        if channels_last:
            variants.append(("fp32_channels_last", False, True))
        if amp and channels_last:
            variants.append(("amp_channels_last", True, True))
    return variants


def _timed(step, iters, warmup, device):
    """Seconds of each of ``iters`` calls of ``step()`` after ``warmup`` untimed ones, CUDA-synchronised."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iters):
        sync()
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return times


def _prepare(model, device, channels_last):
    model.channels_last = channels_last
    return model.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def _figures(times, items, device):
    """``per_s`` and ``ms_per_iter`` from the total time, as MMAction2's script (comparable with the zoo's column);
    on a machine shared with other jobs the median and the minimum iteration are the steadier figures."""
    total = sum(times)
    figures = dict(per_s=round(items * len(times) / total, 3), ms_per_iter=round(1000 * total / len(times), 3),
                   ms_per_iter_median=round(1000 * statistics.median(times), 3),
                   ms_per_iter_min=round(1000 * min(times), 3))
    if device.type == "cuda":
        figures["peak_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)
    return figures


def view_size(cfg, protocol, num_segments=None):
    """The side of one view of ``protocol`` for ``cfg``'s model: the size ``test --protocol`` would crop (the
    protocol's own with "@SIZE", else the model's short side for ThreeCrop and its input size otherwise)."""
    pipeline = protocol_settings(protocol, num_segments=num_segments or 3, **model_sizes(cfg))["test_pipeline"]
    return next(step["crop_size"] for step in pipeline if "crop_size" in step)


def bench_inference(model, cfg, protocol, batch, iters, warmup, device, amp=False, channels_last=False):
    """``{variant: figures}`` of inference on the protocol's views at ``cfg``'s sizes (`view_size`); ``per_s`` is
    videos per second."""
    crop = view_size(cfg, protocol, model.num_segments)
    views = num_views(protocol, model.num_segments if protocol == "val" else None)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, 256, (batch, views, model.in_channels, crop, crop), dtype=torch.uint8,
                           generator=generator)
    if device.type == "cuda":
        inputs = inputs.pin_memory()
    model.eval()
    results = {}
    for name, use_amp, nhwc in _variants(device, amp, channels_last):
        _prepare(model, device, nhwc)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

        @torch.no_grad()
        def step():
            with torch.autocast(device.type, dtype=_amp_dtype(cfg, device), enabled=use_amp):
                model(inputs.to(device, non_blocking=True))  # the copy is timed, as in MMAction2

        results[name] = dict(_figures(_timed(step, iters, warmup, device), batch, device), views=views,
                             input_shape=list(inputs.shape))
    return results


def bench_train(model, cfg, batch, iters, warmup, device, amp=False, channels_last=False):
    """``{variant: figures}`` of a training step; ``per_s`` is clips (training samples of num_segments) per s."""
    generator = torch.Generator().manual_seed(0)
    size = model_sizes(cfg)["input_size"]
    shape = (batch, model.num_segments, model.in_channels, size, size)
    inputs = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(device)
    if cfg.get("multi_label", False):
        labels = torch.randint(0, 2, (batch, model.num_classes), generator=generator).float().to(device)
    else:
        labels = torch.randint(0, model.num_classes, (batch,), generator=generator).to(device)
    model.train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4, momentum=0.9)
    results = {}
    for name, use_amp, nhwc in _variants(device, amp, channels_last):
        _prepare(model, device, nhwc)
        scaler = torch.amp.GradScaler(device.type, enabled=use_amp and _amp_dtype(cfg, device) == torch.float16)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

        def step():
            with torch.autocast(device.type, dtype=_amp_dtype(cfg, device), enabled=use_amp):
                logits = model(inputs).float()
            loss = (F.binary_cross_entropy_with_logits(logits, labels) if labels.dim() == 2
                    else F.cross_entropy(logits, labels))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

        figures = _figures(_timed(step, iters, warmup, device), batch, device)
        results[name] = dict(figures, snippets_per_s=round(figures["per_s"] * model.num_segments, 3),
                             input_shape=list(shape))
    return results


def macs_per_view(model, size=224):
    """Multiply-accumulates of one view (``[1, 1, C, size, size]``) through ``model``: the "FLOPs" papers and
    model zoos quote (ResNet-50 at 224: 4.1 G). Counted by `torch.utils.flop_counter`, which counts 2 FLOPs per
    multiply-accumulate of convolutions and matrix products (the rest, activations and norms, is left out, as in
    the usual figures), on a model and input of the ``meta`` device when the model is one: nothing is computed,
    so Swin-B costs no more to count than ResNet-18. The count does not depend on the machine."""
    from torch.utils.flop_counter import FlopCounterMode
    device = next(model.parameters()).device
    was_training = model.training
    x = torch.zeros((1, 1, model.in_channels, size, size), dtype=torch.uint8, device=device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(x)
    model.train(was_training)
    return counter.get_total_flops() // 2


def run(config, protocol=None, batch=1, iters=20, warmup=5, device=None, amp=False, channels_last=False,
        train=False, overrides=()):
    """Build ``config``'s model (random weights) and time it; returns the dict printed as JSON. ``protocol``:
    a named test protocol, None for the config's own (`tsnbook.pipelines.protocol_of`)."""
    from .configs import get_config
    from .factory import build_model
    if batch < 1 or iters < 1 or warmup < 0:
        raise ValueError(f"--batch and --iters must be >= 1 and --warmup >= 0 (got {batch}, {iters}, {warmup})")
    cfg = get_config(config, overrides)
    protocol = protocol or protocol_of(cfg)
    device = torch.device(device or best_device())
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # the warm-up iterations pay for the autotuning
    torch.manual_seed(0)
    model = build_model(dict(cfg, pretrained=None, load_from=None))
    if train:
        results = bench_train(model, cfg, batch, iters, warmup, device, amp, channels_last)
    else:
        results = bench_inference(model, cfg, protocol, batch, iters, warmup, device, amp, channels_last)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return dict(config=config, mode="train" if train else "inference", protocol=None if train else protocol,
                unit="clips/s" if train else "videos/s", batch=batch, iters=iters, warmup=warmup,
                device=str(device), device_name=name, backbone=cfg["backbone"], torch=torch.__version__,
                threads=torch.get_num_threads(), results=results)


def run_from_args(args):
    """The ``bench-model`` subcommand: human-readable lines, then the JSON object as the last line."""
    report = run(args.config, args.protocol, args.batch, args.iters, args.warmup, args.device, args.amp,
                 args.channels_last, args.train, args.cfg_options)
    if report["device"] == "cpu" and (args.amp or args.channels_last):
        print("note: --amp / --channels-last are CUDA-only; the CPU runs fp32 alone")
    what = "training step" if args.train else f"inference, {report['protocol']}"
    print(f"{args.config} ({report['backbone']}), {what}, batch {args.batch}, {report['device_name']}")
    for variant, figures in report["results"].items():
        memory = f", peak {figures['peak_memory_mb']:.0f} MiB" if "peak_memory_mb" in figures else ""
        print(f"  {variant:<20} {figures['per_s']:9.2f} {report['unit']}  ({figures['ms_per_iter']:.1f} ms/iter"
              f"{memory})")
    print(json.dumps(report))
    return 0
