"""What a preparation step did and found: counts per split, problems, actions, and whether training can start.

A `Report` is returned by every step of every dataset module and printed by ``prepare.py``:

* ``counts[split]``: ``published`` (the dataset's own figure), ``mmaction2`` (MMAction2's copy, where known),
  ``annotated`` (entries in the official annotation file), ``on_disk`` (of those, present), ``written`` (lines
  in the list file) - any may be None;
* ``problems``: `Problem` (kind, file[:line], reason, severity). Kinds used so far (`KINDS`) keep the files
  greppable; "error" problems mean training should not start (``ok`` is False, prepare.py exits 1),
  "warning" ones are worth reading but do not block;
* ``actions``: counts of what was done and skipped ("extracted", "skipped (done)", ...), so a resumed run says
  what it did not redo.

`Report.write` puts the table and every problem into ``ROOT/prepare_<step>_report.txt`` (atomically; one
shard's into ``prepare_<step>_report.shard-K-of-N.txt``, `tsnbook.datasets.shards`); the printed `summary` shows
the table and the first problems.
"""
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .files import atomic_write

KINDS = ("missing", "unreadable", "truncated", "zero frames", "frame count", "template", "index base", "stray",
         "unknown class", "duplicate", "label", "annotation", "count", "download", "archive", "extract", "name")
COLUMNS = ("published", "mmaction2", "annotated", "on_disk", "written")
HEADERS = dict(published="published", mmaction2="MMAction2", annotated="annotation", on_disk="on disk",
               written="written")
#: The steps whose clean report means the lists exist and hold what is on disk. A clean download, extraction or
#: single shard says only "no errors": training needs the lists (or the shards merged) first.
READY_AFTER = ("lists", "verify")


@dataclass(frozen=True)
class Problem:
    kind: str  # one of KINDS
    path: str  # the file (or "file:line") concerned
    reason: str
    severity: str = "error"  # "error": training should not start; "warning": worth reading

    def __str__(self):
        return f"{self.severity}\t{self.kind}\t{self.path}\t{self.reason}"


class Report:
    """Counts, problems and actions of one step (or of several, `merge`d) for one dataset root."""

    def __init__(self, dataset, step, root, shard=None):
        self.dataset, self.step, self.root, self.shard = dataset, step, Path(root), shard
        self.counts, self.problems, self.actions, self.notes = {}, [], Counter(), []

    # ---------------------------------------------------------------------------------------------- record
    def problem(self, kind, path, reason, severity="error"):
        if kind not in KINDS:
            raise ValueError(f"unknown problem kind {kind!r}; use one of {KINDS}")
        self.problems.append(Problem(kind, str(path), reason, severity))

    def unreadable_annotations(self, error):
        """Record an `AnnotationError` ("path: reason") as the step's one problem and return the report: a step
        that cannot read the annotations checks nothing else."""
        path, _, reason = str(error).partition(": ")
        self.problem("annotation", path, reason)
        return self

    def count(self, split, **values):
        unknown = set(values) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown count column(s) {sorted(unknown)}; use {COLUMNS}")
        self.counts.setdefault(split, dict.fromkeys(COLUMNS))
        self.counts[split].update(values)

    def did(self, action, n=1):
        """Count work done or skipped, e.g. ``did("extracted", 12)``, ``did("skipped (done)")``."""
        self.actions[action] += n

    def note(self, text):
        self.notes.append(text)

    def merge(self, other):
        """Add another step's report into this one (``prepare.py all``)."""
        for split, values in other.counts.items():
            self.count(split, **{k: v for k, v in values.items() if v is not None})
        self.problems += other.problems
        self.actions.update(other.actions)
        self.notes += other.notes
        return self

    # ---------------------------------------------------------------------------------------------- read
    @property
    def errors(self):
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self):
        """Can training start? True when no problem is an error."""
        return not self.errors

    def by_kind(self):
        return Counter(p.kind for p in self.problems)

    def table(self):
        """The counts as a Markdown table (only the columns that have a value somewhere)."""
        columns = [c for c in COLUMNS if any(v.get(c) is not None for v in self.counts.values())]
        if not columns:
            return ""
        lines = ["| split | " + " | ".join(HEADERS[c] for c in columns) + " |",
                 "|:--|" + "--:|" * len(columns)]
        for split, values in self.counts.items():
            cells = ["" if values.get(c) is None else f"{values[c]:,}" for c in columns]
            lines.append(f"| {split} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def summary(self, max_problems=10, failed_before=()):
        """What prepare.py prints: actions, the counts table, problems by kind and the first few. After a failed
        step of the same ``all`` run (``failed_before``: their names) there is no "ok" and no "next:" line: the
        failure above must be fixed first. Only a whole ``lists`` or ``verify`` report ends "ok: training can start"
        (`READY_AFTER`); a clean earlier step or shard ends "ok: no errors"."""
        head = f"{self.dataset} {self.step}{f' (shard {self.shard})' if self.shard else ''} in {self.root}"
        lines = [head + (": " + ", ".join(f"{k} {v}" for k, v in sorted(self.actions.items()))
                         if self.actions else "")]
        lines += [note for note in self.notes if not (failed_before and note.startswith("next:"))]
        if self.counts:
            lines.append(self.table())
        if self.problems:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind().items()))
            lines.append(f"{len(self.errors)} error(s), {len(self.problems) - len(self.errors)} warning(s): {kinds}")
            lines += [f"  {p.severity}: {p.path}: {p.kind}: {p.reason}" for p in self.problems[:max_problems]]
            if len(self.problems) > max_problems:
                lines.append(f"  ... {len(self.problems) - max_problems} more in {self.path}")
        if not self.ok:
            lines.append(f"not ok: fix the errors above (all listed in {self.path}) before training")
        elif failed_before:
            lines.append(f"{self.step}: no errors, but {' and '.join(failed_before)} failed above: fix it first")
        elif self.step in READY_AFTER and not self.shard:
            lines.append("ok: training can start")
        else:  # a download, an extraction or one shard: the lists are still to be written (or merged)
            lines.append(f"ok: no errors{' in this shard' if self.shard else ''}")
        return "\n".join(lines)

    @property
    def path(self):
        """``ROOT/prepare_<step>_report.txt``; one shard's: ``prepare_<step>_report.shard-K-of-N.txt``."""
        return self.root / f"prepare_{self.step}_report{self.shard.suffix if self.shard else ''}.txt"

    def write(self):
        """Write the table and every problem (one tab-separated line each) to `path`; returns it."""
        step = f"{self.step} (shard {self.shard})" if self.shard else self.step
        text = [f"# {self.dataset} {step}: {'ok' if self.ok else 'not ok'}", self.table(), "",
                "# severity\tkind\tfile\treason"] + [str(p) for p in self.problems]
        self.root.mkdir(parents=True, exist_ok=True)
        return atomic_write(self.path, "\n".join(text) + "\n")
