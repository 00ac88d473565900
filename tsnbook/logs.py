"""Training logs: one JSON object per line (``log.jsonl``), appended and flushed record by record, easy to plot.

A log outlives the processes that write it: a run killed and resumed appends to it, so it holds what every
process logged, the epochs an interrupted one trained and its successor trained again included (`run_history`
keeps the ones the checkpoint continues), and a process killed in the middle of a write may leave half a line
(`JsonLog.write` starts the next record on a line of its own; `read_log` skips the fragment and says so).
"""
import json
import os
import warnings
from pathlib import Path


class JsonLog:
    """Append-only JSON-lines log: one ``json.dumps`` per line, flushed on every write, easy to plot."""

    def __init__(self, path):
        self.path = Path(path)

    def write(self, **record):
        with open(self.path, "ab+") as f:  # writes append; "+" to read the last byte
            torn = False
            end = f.seek(0, os.SEEK_END)
            if end:
                f.seek(end - 1)
                torn = f.read(1) != b"\n"  # the half line of a writer killed mid-write
            f.write((("\n" if torn else "") + json.dumps(record) + "\n").encode())


def read_log(path):
    """The records of a ``log.jsonl`` file, as a list of dicts (every process's: see `run_history`). A line that
    is no JSON record - half a line, written by a run killed mid-write - is skipped with a warning."""
    records = []
    for number, line in enumerate(Path(path).read_text().split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            warnings.warn(f"{path}: line {number} is not a JSON record (a run killed while writing it?); skipped",
                          stacklevel=2)
    return records


def run_history(records):
    """The records of the history the run's latest checkpoint continues, from `read_log`'s ``records``.

    A run resumed from epoch k (its "resume" record) trains epochs k + 1, ... again: what an interrupted process
    logged for them is dropped, so that curves and summaries count each epoch once. A "config" record with no
    "resume" before it is a start from scratch (a run killed before its first checkpoint, started again): the
    epochs logged before it are dropped too. Records without an epoch (config, warnings, errors) are kept.
    """
    kept = []
    for index, record in enumerate(records):
        mode = record.get("mode")
        resumed = index > 0 and records[index - 1].get("mode") == "resume"
        if mode == "resume" or (mode == "config" and not resumed):
            start = record.get("epoch", 0) if mode == "resume" else 0
            kept = [r for r in kept if r.get("epoch", 0) <= start]
        kept.append(record)
    return kept
