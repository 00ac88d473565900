"""The main job: two-stream TSN on SynthActions, end to end, in a few minutes on a laptop CPU.

1. generate SynthActions (`tsnbook.synth`) and extract its optical flow (`tsnbook.flow`) - both reused when
   already there and intact;
2. train an RGB TSN and a flow TSN (`tsnbook.engine.train`, resuming a finished or interrupted run);
3. test both with the multi-clip x multi-crop protocol, fuse the raw scores 1:1 (the zoo's "[1:1]", no softmax)
   and print the results in the model zoo's table shape, with the accuracy on the appearance and the motion
   classes that shows why two streams are needed;
4. leave checkpoints, ``log.jsonl`` logs, score files, ``results.json`` and ``demo.png`` in the work dir.
"""
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from ..configs import get_config
from ..engine import evaluate_checkpoint, train
from ..flow import extract_flow_dataset
from ..metrics import fuse_scores, top_k_accuracy
from ..scores import load_scores, save_scores
from . import synth

RGB_CONFIG, FLOW_CONFIG = "tsn_r18_1x1x3_12e_synthactions_rgb", "tsn_r18_1x1x3_12e_synthactions_flow"
FLOW_OPTIONS = dict(algorithm="dis", bound=20.0)


def check_writable(folder):
    """Fail early, with one clear message, when ``folder`` cannot be created or written."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write_test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise SystemExit(f"error: cannot write to {folder} ({err.strerror}). Choose another folder with "
                         f"--work-dir / --data-root, or fix its permissions.") from None
    return folder


def prepare_synthactions(root, workers=None, progress=True, **options):
    """SynthActions videos plus their flow JPEGs and flow list files under ``root``; reused when intact."""
    root = check_writable(root)
    manifest = synth.prepare(root, **options)
    stamp = root / "flow.json"
    expected = dict(FLOW_OPTIONS, videos=len(manifest["files"]), manifest=synth.file_sha256(root / "manifest.json"))
    if stamp.exists() and {k: v for k, v in json.loads(stamp.read_text()).items() if k != "counts"} == expected:
        return manifest
    videos = sorted(manifest["files"])
    jobs = [(root / v, root / "rawframes" / Path(v).relative_to("videos").with_suffix("")) for v in videos]
    counts, failures = extract_flow_dataset(jobs, workers=workers, progress=progress, **FLOW_OPTIONS)
    if failures:
        raise RuntimeError("optical flow failed for: " + "; ".join(f"{p} ({e})" for p, e in failures))
    for split in ("train", "val"):
        lines = []
        for line in (root / f"synthactions_{split}_split_1_videos.txt").read_text().split("\n"):
            if line:
                rel, label = line.split()
                count = counts[str(root / "videos" / rel)]
                lines.append(f"{rel.rsplit('.', 1)[0]} {count} {label}")
        (root / f"synthactions_{split}_split_1_flow.txt").write_text("\n".join(lines) + "\n")
    stamp.write_text(json.dumps(dict(expected, counts=len(counts))))
    return manifest


def prepare_zoo_replicas(root, workers=None, progress=True, **options):
    """`prepare_synthactions` plus the extra frame namings and list files of the zoo configs' ``_tiny`` twins
    (`tsnbook.synth.write_zoo_replicas`); reused when already written for this copy of SynthActions."""
    manifest = prepare_synthactions(root, workers=workers, progress=progress, **options)
    root = Path(root)
    stamp = root / "zoo_replicas.json"
    expected = dict(version=synth.ZOO_REPLICA_VERSION, manifest=synth.file_sha256(root / "manifest.json"),
                    flow=json.loads((root / "flow.json").read_text()))
    if stamp.exists() and json.loads(stamp.read_text()) == expected:
        return manifest
    synth.write_zoo_replicas(root)
    stamp.write_text(json.dumps(expected))  # written last: its presence means "complete"
    return manifest


def group_accuracy(scores, labels, classes):
    """Top-1 accuracy (%) on the appearance classes and on the motion classes separately."""
    labels = np.asarray(labels)
    hits = scores.argmax(1) == labels
    appearance = np.isin(labels, [classes.index(c) for c in synth.APPEARANCE_COLOURS])
    return dict(appearance=100 * hits[appearance].mean(), motion=100 * hits[~appearance].mean())


def results_table(rows):
    """The model zoo's table: | config | top1 | top5 |, plus the per-group accuracy of each row."""
    lines = ["| config | top1 | top5 | appearance top1 | motion top1 |", "|:--|:--:|:--:|:--:|:--:|"]
    lines += [f"| {r['config']} | {r['top1']:.2f} | {r['top5']:.2f} | {r['appearance']:.1f} | {r['motion']:.1f} |"
              for r in rows]
    return "\n".join(lines)


def run_demo(work_dir="work_dirs/demo", data_root="data/synthactions", device=None, progress=True, fresh=False,
             configs=(RGB_CONFIG, FLOW_CONFIG), overrides=(), workers=None, figure=True, log=print):
    """Run the whole two-stream experiment; returns a dict with the table rows and the paths written.

    ``log`` receives one line per step (data, each stream with its own time, the files written); the results
    themselves are returned (``rows``, ``gain``) for the caller to show: `results_table` formats them. Without
    matplotlib (the course extra) ``figure`` is dropped with a note, so that a lean install still ends in the results.
    """
    started = time.time()
    work_dir = check_writable(work_dir)
    if figure and importlib.util.find_spec("matplotlib") is None:  # a lean `pip install tsnbook`: said first
        log("note: matplotlib is not installed, so demo.png is not drawn (pip install 'tsnbook[course]'); the table "
            "and results.json are written")
        figure = False
    manifest = prepare_synthactions(data_root, workers=workers, progress=progress)
    classes = manifest["classes"]
    log(f"SynthActions: {len(manifest['files'])} videos, {len(classes)} classes, optical flow ready "
        f"({time.time() - started:.0f} s)")
    streams = {}
    for name in configs:
        stream_started = time.time()
        cfg = get_config(name, overrides)
        run_dir = work_dir / name
        train(cfg, run_dir, resume=not fresh, force=fresh, device=device, progress=progress, data_root=data_root)
        scores_file = run_dir / "test_scores.npz"
        scores, labels, report, skipped = evaluate_checkpoint(cfg, run_dir / "latest.pth", device=device,
                                                              progress=progress, data_root=data_root)
        names = [Path(r).name for r in _test_names(cfg, data_root)]
        save_scores(scores_file, scores, labels, names)
        streams[name] = load_scores(scores_file)
        log(f"{name}: top1 {report['top1']:.2f} ({report['num_videos']} test videos, {cfg['test_clips']} clips x "
            f"{_crops(cfg)} crops; {time.time() - stream_started:.0f} s)")
    rows = []
    labels = streams[configs[0]][1]
    for name, (scores, _, _) in streams.items():
        rows.append(_row(name, scores, labels, classes))
    if len(configs) == 2:
        fused = fuse_scores([streams[c][0] for c in configs], [1, 1])
        save_scores(work_dir / "two_stream_scores.npz", fused, labels, streams[configs[0]][2])
        rows.append(_row("two-stream [1:1]", fused, labels, classes))
    best_single = max(r["top1"] for r in rows[:len(configs)])
    results = dict(rows=rows, gain=rows[-1]["top1"] - best_single, seconds=round(time.time() - started, 1),
                   work_dir=str(work_dir))
    if figure:
        from .figures import demo_figure
        results["figure"] = str(demo_figure(work_dir, configs, classes))
        log(f"figure: {results['figure']}")
    (work_dir / "results.json").write_text(json.dumps(results, indent=1))
    log(f"results: {work_dir / 'results.json'} (total {results['seconds']:.0f} s)")
    return results


def _row(name, scores, labels, classes):
    top1, top5 = top_k_accuracy(scores, labels, (1, 5))
    return dict(config=name, top1=100 * top1, top5=100 * top5, **group_accuracy(scores, labels, classes))


def _crops(cfg):
    step = next(t for t in cfg["test_pipeline"] if t["type"] in ("ThreeCrop", "TenCrop", "CenterCrop"))
    return {"ThreeCrop": 3, "TenCrop": 10, "CenterCrop": 1}[step["type"]]


def _test_names(cfg, data_root):
    root = Path(data_root or cfg["data_root"])
    return [line.split()[0] for line in (root / cfg["ann_file_test"]).read_text().splitlines() if line.strip()]


def main_exit_code(results, threshold=20.0):
    """0 when the two-stream gain reaches ``threshold`` points, else 1 (the demo's own sanity check)."""
    return 0 if results.get("gain", 0) >= threshold else 1
