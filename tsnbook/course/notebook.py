"""Small helpers the course's notebooks share, so that every dataset notebook has one shape.

    rows = zoo_rows("UCF101")                       # the zoo's rows for a dataset, from the configs' zoo entries
    display(Markdown(zoo_table(rows)))             # top-1/top-5 or mAP, GPUs, resolution, pre-training, memory, file
    check_claims({"top-1 >= 50 %": top1 >= 50})    # prints "yes  ..." per claim (what nbval compares), asserts all
    print(full_mode_commands(name))                # the exact commands that reproduce a row, and test its checkpoint
    code = run_prepare("ucf101", "all", root)       # data_scripts/prepare.py, run as a user runs it
    problems = show_report(root, "verify")          # its report: the counts table and what it found
    checkpoint, reused = train_cached(cfg, work_dir)  # a run reused only when it was of exactly this config
    display(Markdown(markdown_table(["name", "top-1"], rows)))   # any table: JupyterLab renders it, nbval compares it
    with skips_summarised():                        # training's per-epoch "skipped" warnings, one line per run
        tsnbook.train(cfg, work_dir)
"""
import io
import json
import re
import shlex
import subprocess
import sys
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

from ..configs import all_configs
from ..pipelines import protocol_of


def zoo_rows(dataset):
    """``[(name, config)]`` of the zoo rows whose ``zoo["dataset"]`` is ``dataset`` (or starts with it: "Kinetics"
    gives 400, 600 and 700), in the configs' order; `_tiny` twins and course configs left out."""
    return [(name, cfg) for name, cfg in all_configs().items()
            if not name.endswith("_tiny") and (cfg.get("zoo") or {}).get("dataset", "").startswith(dataset)
            and "checkpoint" in cfg["zoo"]]


def _figure(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def zoo_table(rows):
    """A Markdown table of rows from `zoo_rows`: what the zoo published for each, and what separates them.
    Rows with a ``zoo["reference"]`` (the same model trained by another codebase, as the Something-Something
    rows quote TSM's) get a "reference top-1 / top-5" column."""
    multi = any(cfg["zoo"].get("mAP") is not None for _, cfg in rows)
    reference = any(cfg["zoo"].get("reference") for _, cfg in rows)
    head = "| config | " + ("mAP | " if multi else "top-1 | top-5 | ") + ("reference top-1 / top-5 | " * reference) + \
        "frames | source | resolution | GPUs | pre-training | test | memory (MB) | checkpoint |"
    lines = [head, "|" + ":--|" * (head.count("|") - 1)]
    for name, cfg in rows:
        zoo = cfg["zoo"]
        scores = f"{_figure(zoo.get('mAP'))} | " if multi else f"{_figure(zoo['top1'])} | {_figure(zoo['top5'])} | "
        if reference:
            ref = zoo.get("reference")
            scores += f"{_figure(ref[0])} / {_figure(ref[1])} | " if ref else "- | "
        frames = f"{'dense ' if cfg.get('sampler') == 'dense' else ''}{cfg['num_segments']}" + \
            (f" x {cfg['clip_len']} flow" if cfg["modality"] == "flow" else "")
        checkpoint = Path(zoo["checkpoint"]).name if zoo.get("checkpoint") else "-"
        lines.append(f"| {name} | {scores}{frames} | {cfg['source']} | {zoo.get('resolution') or '-'} | "
                     f"{zoo.get('gpus', '-')} | {zoo.get('pretrain', '-')} | {protocol_of(cfg)} | "
                     f"{zoo.get('memory_mb') or '-'} | {checkpoint} |")
    return "\n".join(lines)


def check_claims(claims):
    """Print one line per claim ("yes  <claim>" or "NO   <claim>") and assert that all hold.

    What a notebook trained on a CPU may compare across machines: the claims its asserts guarantee, not the
    exact metric (PyTorch promises no equal floats across CPUs and releases); the figures themselves go in a cell
    nbval does not compare.
    """
    for claim, holds in claims.items():
        print(f"{'yes' if holds else 'NO '}  {claim}")
    failed = [claim for claim, holds in claims.items() if not holds]
    assert not failed, f"claims that do not hold: {failed}"


def full_mode_commands(name, data_root=None, gpus=8, options=None, work_dir=None):
    """The commands that reproduce zoo row ``name`` (torchrun on ``gpus``, and one GPU) and test it once, as text
    for a notebook's full-mode section. ``options``: more config overrides (e.g. another split's ``ann_file_*``),
    with ``work_dir`` to keep that run apart (default ``work_dirs/<name>``).

    Two rules a reader of the zoo's tables can miss. A flow row starts by extracting TV-L1 flow (`flow_command`),
    the algorithm its released checkpoint was trained on; prepare.py's default, DIS, is the fast one. And a
    checkpoint is chosen on a validation list and tested on the test list once: where the row validates on its
    test list (every zoo row does: the datasets have no other labelled split, or MMAction2 tests on val), the
    ``best.pth`` of ``--validate`` would be chosen on the test videos, so the command tests ``latest.pth`` and
    says how to choose fairly instead; with an ``ann_file_val`` of its own, ``best.pth`` is tested."""
    cfg = dict(all_configs()[name], **(options or {}))
    checkpoint = Path(cfg["zoo"]["checkpoint"]).name if cfg["zoo"].get("checkpoint") else f"{name}.pth"
    metrics = " ".join(cfg.get("eval_metrics", ["top_k_accuracy", "mean_class_accuracy"]))
    pairs = ([f"data_root={data_root}"] if data_root else []) + [f"{k}={v}" for k, v in (options or {}).items()]
    overrides = f" --cfg-options {' '.join(pairs)}" if pairs else ""
    run = f" --work-dir {work_dir}" if work_dir else ""
    lines = []
    if cfg["modality"] == "flow":
        lines += ["# first, TV-L1 flow and its lists (after prepare.py's other steps): the zoo's flow checkpoints were "
                  "trained on it; DIS, prepare.py's default, is about 100 times faster and gives other flow fields:",
                  flow_command(cfg, data_root)]
    if cfg["ann_file_val"] == cfg["ann_file_test"]:
        tested = "latest.pth"
        choose = [f"# test once. The row validates on its test list too ({cfg['ann_file_test']}), so best.pth "
                  "would be chosen on the test videos:",
                  "# test latest.pth (the end of the schedule), or choose on a list held out from the training "
                  "videos (ann_file_val=..., and left out of ann_file_train)"]
    else:
        tested = "best.pth"
        choose = [f"# test once, on the test list ({cfg['ann_file_test']}), the checkpoint chosen on the validation "
                  f"list ({cfg['ann_file_val']}):"]
    return "\n".join(lines + [
        f"# {gpus} GPUs, the row's own batch ({cfg['batch_size']} per GPU; lr scaled to the total batch):",
        f"torchrun --nproc_per_node {gpus} -m tsnbook train {name}{run} --validate --seed 0 --deterministic"
        f"{overrides}",
        "# one GPU (the learning rate follows the total batch automatically):",
        f"python -m tsnbook train {name}{run} --validate{overrides}",
        *choose,
        f"python -m tsnbook test {name} {work_dir or 'work_dirs/' + name}/{tested} --eval {metrics}{overrides}",
        "# the zoo's released checkpoint (download it first):",
        f"python -m tsnbook test {name} checkpoints/{checkpoint} --eval {metrics}{overrides}",
    ])


def flow_command(cfg, data_root=None):
    """The commands that write the flow a flow row reads and its lists: ``prepare.py DATASET extract --frames flow
    ... --flow-algorithm tvl1``, then ``lists``. The dataset is the one whose name the row's ``data_root`` ends
    with, the resolution the one its frame folders' suffix names (``rawframes_train_320p``: short320; no suffix:
    the dataset's default)."""
    from ..datasets import names
    root = data_root or cfg["data_root"]
    dataset = next(n for n in names() if Path(cfg["data_root"]).name.lower() == n)
    suffix = {"_320p": " --resolution short320", "_256p": " --resolution short256"}
    resolution = next((flag for end, flag in suffix.items() if cfg["data_prefix"].endswith(end)), "")
    return (f"python data_scripts/prepare.py {dataset} extract --root {root} --frames flow{resolution} "
            f"--flow-algorithm tvl1\npython data_scripts/prepare.py {dataset} lists --root {root}")


PREPARE = Path(__file__).resolve().parents[2] / "data_scripts" / "prepare.py"


def run_prepare(dataset, step, root, workers=1, tables=False, warnings=False, options=()):
    """Run ``python data_scripts/prepare.py DATASET STEP --root ROOT --workers N [OPTIONS]`` as a user does (a
    subprocess of this Python), print the command and what it printed, and return its exit status (0 ok, 1
    problems found, 2 the step could not run). The count tables (``tables=False``) and warning lines
    (``warnings=False``) are left out of the print: `show_report` shows verify's table and counts its warnings.
    ``options``: more arguments, e.g. the folder dataset's ``["--videos", "my videos"]``."""
    argv = [dataset, step, "--root", str(root)] + ([] if workers is None else ["--workers", str(workers)]) + \
        [str(option) for option in options]
    print("$ python data_scripts/prepare.py " + shlex.join(argv))
    result = subprocess.run([sys.executable, str(PREPARE)] + argv, capture_output=True, text=True)
    lines = (result.stdout + result.stderr).splitlines()
    kept = [line for line in lines if (tables or not line.startswith("|")) and
            (warnings or not line.startswith("  warning: "))]
    print("\n".join(kept))
    if len(kept) < len(lines):
        print(f"({len(lines) - len(kept)} table and warning lines not shown)")
    print(f"exit status {result.returncode}")
    return result.returncode


def read_report(root, step="verify"):
    """``(title, table, problems)`` of ``ROOT/prepare_<step>_report.txt``: its first line, its Markdown count
    table, and its problems as ``[dict(severity, kind, path, reason)]``."""
    lines = (Path(root) / f"prepare_{step}_report.txt").read_text().splitlines()
    table = "\n".join(line for line in lines if line.startswith("|"))
    problems = [dict(zip(("severity", "kind", "path", "reason"), line.split("\t", 3)))
                for line in lines if line.startswith(("error\t", "warning\t"))]
    return lines[0].lstrip("# "), table, problems


def show_report(root, step="verify", warnings=False):
    """Display a step's report: its count table, its errors one per row (paths relative to ``root``), and the
    warnings counted by kind (listed too with ``warnings=True``). Returns the problems (`read_report`)."""
    from IPython.display import Markdown, display

    title, table, problems = read_report(root, step)
    shown = [p for p in problems if warnings or p["severity"] == "error"]
    rows = ["| severity | kind | file | reason |", "|:--|:--|:--|:--|"]
    for p in shown:
        path = p["path"][len(str(root)):].lstrip("/") if p["path"].startswith(str(root)) else p["path"]
        rows.append(f"| {p['severity']} | {p['kind']} | `{path}` | {p['reason'].replace('|', '/')} |")
    counted = {}
    for p in problems:
        if p["severity"] == "warning" and not warnings:
            counted[p["kind"]] = counted.get(p["kind"], 0) + 1
    extra = ("\n\nwarnings: " + ", ".join(f"{n} {kind}" for kind, n in counted.items())) if counted else ""
    display(Markdown(f"**{title}**\n\n{table}\n\n" + ("\n".join(rows) if shown else "no errors") + extra))
    return problems


def finished_run(cfg, work_dir):
    """True when ``work_dir`` holds a run of exactly ``cfg`` (its ``config.json``, as `tsnbook.train` writes it)
    that reached the config's last epoch."""
    from ..checkpoints import read_checkpoint
    work_dir = Path(work_dir)
    if not (work_dir / "config.json").exists() or not (work_dir / "latest.pth").exists():
        return False
    same = json.loads((work_dir / "config.json").read_text()) == json.loads(json.dumps(cfg, default=str))
    return same and read_checkpoint(work_dir / "latest.pth").get("epoch") == cfg["epochs"]


def train_cached(cfg, work_dir, device=None, data_root=None, validate=False):
    """Train ``cfg`` into ``work_dir`` unless it already holds a finished run of exactly this config; returns
    ``(latest.pth, reused)``. A folder holding a run of another config (or an unfinished one) is replaced, so a
    notebook re-run after a change never reuses stale weights, and an unchanged re-run trains nothing."""
    from ..engine import train
    work_dir = Path(work_dir)
    if finished_run(cfg, work_dir):
        return work_dir / "latest.pth", True
    train(cfg, work_dir, resume=False, force=True, device=device, progress=False, validate=validate,
          data_root=data_root)
    return work_dir / "latest.pth", False


def markdown_table(header, rows, align=None):
    """A Markdown table (a string) of ``rows`` under ``header``; ``display(Markdown(...))`` renders it.

    Why Markdown and not printed columns: JupyterLab shows it as a table, which a learner reads faster than
    space-padded text, and nbval still compares its text. Cells are ``str()``-ed (format numbers first); a ``|``
    inside one is escaped. ``align``: one letter per column, "l", "c" or "r" (default: numbers right, text left,
    judged by the first row).
    """
    rows = [list(row) for row in rows]
    if any(len(row) != len(header) for row in rows):
        raise ValueError(f"every row needs {len(header)} cells (one per header), got {[len(r) for r in rows]}")
    if align is None:
        first = rows[0] if rows else [""] * len(header)
        align = "".join("r" if isinstance(v, (int, float)) and not isinstance(v, bool) else "l" for v in first)
    rule = {"l": ":--", "c": ":-:", "r": "--:"}
    if len(align) != len(header) or set(align) - set(rule):
        raise ValueError(f"align needs one of l, c, r per column ({len(header)}), got {align!r}")

    def line(cells):
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"
    return "\n".join([line(header), "|" + "|".join(rule[a] for a in align) + "|"] + [line(row) for row in rows])


_SKIPPED = re.compile(r"warning: skipped (\d+) unusable video\(s\) in epoch (\d+), listed in (.+)$")


@contextmanager
def skips_summarised():
    """Print what the code inside prints, except training's per-epoch "warning: skipped N unusable video(s) in
    epoch E, listed in LOG" lines: those become one line per log at the end, with the epochs. A replica's cut
    clip is skipped in every epoch, and six runs of six epochs would otherwise repeat the same warning 36 times;
    the log keeps each epoch's list. A skip by an unexpected error (a bug, not a bad file) keeps its own line.
    What was printed is printed even when the code raises."""
    printed = io.StringIO()
    try:
        with redirect_stdout(printed):
            yield
    finally:
        skipped = {}
        for line in printed.getvalue().splitlines():
            match = _SKIPPED.match(line)
            if match:
                skipped.setdefault(match[3], []).append((int(match[2]), int(match[1])))
            else:
                print(line)
        for log, epochs in skipped.items():
            counts = sorted({count for _, count in epochs})
            print(f"warning: skipped {' or '.join(map(str, counts))} unusable video(s) in epoch"
                  f"{'s' if len(epochs) > 1 else ''} {', '.join(str(epoch) for epoch, _ in epochs)}, listed in {log}")
