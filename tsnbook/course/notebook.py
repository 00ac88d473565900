"""Small helpers the course's notebooks share, so that every dataset notebook has one shape.

    rows = zoo_rows("UCF101")                       # the zoo's rows for a dataset, from the configs' zoo entries
    display(Markdown(zoo_table(rows)))             # top-1/top-5 or mAP, GPUs, resolution, pre-training, memory, file
    check_claims({"top-1 >= 50 %": top1 >= 50})    # prints "yes  ..." per claim (what nbval compares), asserts all
    print(full_mode_commands(name))                # the exact commands that reproduce a row, and test its checkpoint
    display(Markdown(markdown_table(["name", "top-1"], rows)))   # any table: JupyterLab renders it, nbval compares it
"""
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
    """A Markdown table of rows from `zoo_rows`: what the zoo published for each, and what separates them."""
    multi = any(cfg["zoo"].get("mAP") is not None for _, cfg in rows)
    head = "| config | " + ("mAP | " if multi else "top-1 | top-5 | ") + \
        "frames | source | resolution | GPUs | pre-training | test | memory (MB) | checkpoint |"
    lines = [head, "|" + ":--|" * (head.count("|") - 1)]
    for name, cfg in rows:
        zoo = cfg["zoo"]
        scores = f"{_figure(zoo.get('mAP'))} | " if multi else f"{_figure(zoo['top1'])} | {_figure(zoo['top5'])} | "
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
    exact metric (course_and_testing.md §2.5); the figures themselves go in a cell nbval does not compare.
    """
    for claim, holds in claims.items():
        print(f"{'yes' if holds else 'NO '}  {claim}")
    failed = [claim for claim, holds in claims.items() if not holds]
    assert not failed, f"claims that do not hold: {failed}"


def full_mode_commands(name, data_root=None, gpus=8):
    """The commands that reproduce zoo row ``name`` (one GPU, and torchrun on ``gpus``) and test its released
    checkpoint, as text for a notebook's full-mode section."""
    cfg = all_configs()[name]
    root = data_root or cfg["data_root"]
    checkpoint = Path(cfg["zoo"]["checkpoint"]).name if cfg["zoo"].get("checkpoint") else f"{name}.pth"
    metrics = " ".join(cfg.get("eval_metrics", ["top_k_accuracy", "mean_class_accuracy"]))
    options = f" --cfg-options data_root={root}" if data_root else ""
    return "\n".join([
        f"# {gpus} GPUs, the row's own batch ({cfg['batch_size']} per GPU; lr scaled to the total batch):",
        f"torchrun --nproc_per_node {gpus} -m tsnbook train {name} --validate --seed 0 --deterministic{options}",
        "# one GPU (the learning rate follows the total batch automatically):",
        f"python -m tsnbook train {name} --validate{options}",
        "# test the run, or the zoo's released checkpoint (download it first):",
        f"python -m tsnbook test {name} work_dirs/{name}/best.pth --eval {metrics}{options}",
        f"python -m tsnbook test {name} checkpoints/{checkpoint} --eval {metrics}{options}",
    ])


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
