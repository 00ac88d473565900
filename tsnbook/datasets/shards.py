"""The per-video work of ``extract`` and ``verify`` split over several machines: ``--shard K/N``.

Extracting frames and flow for Kinetics-700 (650,000 videos) takes days on one machine. With ``--shard K/N`` each
of N machines (or Slurm array tasks, ``--shard $((SLURM_ARRAY_TASK_ID + 1))/$SLURM_ARRAY_TASK_COUNT``) takes a
disjoint, deterministic share: the videos whose name (the file stem, which is also the frame folder's name) hashes
to K - 1 modulo N (`Shard.holds`; CRC-32, the same on every machine and Python). Every step then runs as usual,
but only its share of the per-video work is done (`Work`); the rest of the step (reading the annotations, the
list files) is cheap and runs on each machine. Each shard writes

* ``ROOT/prepare_<step>_report.shard-K-of-N.txt``: what its share found (the problems about its own videos and
  frame folders, and what it did), to read while the others run;
* ``ROOT/prepare_<step>_results.shard-K-of-N.json``: the result of each video's work, for the merge.

``prepare.py DATASET report`` then runs the step once more with every shard's results read back instead of
computed (`Work` with ``results``): its report, ``ROOT/prepare_<step>_report.txt``, is the one a single machine
would have written. A result missing (a shard not run, or the copy changed since) is an error naming it.

The archives are unpacked once, on one machine (``extract --frames none``): a sharded ``extract`` only extracts
frames. `Work` without a shard is what every step uses on one machine: `jobs.run` over all of it.
"""
import json
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from .. import jobs
from .files import DatasetError, atomic_write

_SHARD = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class Shard:
    """Share ``index`` (1..``count``) of the work."""
    index: int
    count: int

    @classmethod
    def parse(cls, text):
        """``"K/N"`` -> Shard(K, N); anything else is a ValueError saying what is expected."""
        match = _SHARD.match(str(text).strip())
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise ValueError(f"--shard {text}: expected K/N with 1 <= K <= N, e.g. --shard 3/8 (the third of 8 "
                             "machines)")
        return cls(int(match[1]), int(match[2]))

    def holds(self, name):
        """Is the video (or frame folder) called ``name`` this shard's? Disjoint shares that cover everything."""
        return zlib.crc32(name.encode("utf-8")) % self.count == self.index - 1

    @property
    def suffix(self):
        return f".shard-{self.index}-of-{self.count}"

    def __str__(self):
        return f"{self.index}/{self.count}"


def results_path(root, step, shard):
    return Path(root) / f"prepare_{step}_results{shard.suffix}.json"


class Work:
    """Where the per-video work of a step runs: all of it here (``workers`` processes), one ``shard``'s share of
    it (the rest gets a placeholder, or is left out), or read back from the shards' ``results``.

    Results are stored under the job's key: the job with paths written relative to ``root`` (JSON)."""

    def __init__(self, root, workers=None, shard=None, results=None):
        self.root, self.workers, self.shard, self.results = str(Path(root)), workers, shard, results
        self.done = {}  # key -> result, of what this run computed
        self.names = set()  # the paths of the videos and folders this run worked on (a shard's own)

    def key(self, job):
        return json.dumps([self._relative(part) for part in job], sort_keys=True, default=str)

    def _relative(self, part):
        text = str(part) if isinstance(part, os.PathLike) else part
        if isinstance(text, str) and text.startswith(self.root + os.sep):
            return os.path.relpath(text, self.root)
        return text

    def run(self, function, jobs_, name, placeholder=None, desc=""):
        """``[function(job) for job in jobs_]``, each job once. ``name(job)``: the video's name that decides its
        shard; ``placeholder(job)``: the result of a job of another shard (None: such jobs are left out)."""
        jobs_ = list(jobs_)
        if self.results is not None:
            return [self._stored(job) for job in jobs_]
        mine = [job for job in jobs_ if self.shard is None or self.shard.holds(name(job))]
        computed = dict(zip(map(self.key, mine), jobs.run(function, mine, self.workers, desc=desc)))
        self.done.update(computed)
        self.names.update(str(job[0]) for job in mine)
        return [computed[self.key(job)] if self.key(job) in computed else placeholder(job)
                for job in jobs_ if self.key(job) in computed or placeholder is not None]

    def _stored(self, job):
        key = self.key(job)
        if key not in self.results:
            raise DatasetError(f"{self.root}: no shard's results hold {key}: run the missing shards again (or the "
                               "copy changed since they ran: run them all again)")
        self.names.add(str(job[0]))
        return self.results[key]

    def save(self, step, options):
        """Write this shard's results (and the options it ran with) for `load`."""
        data = dict(shard=[self.shard.index, self.shard.count], options=options, results=self.done)
        return atomic_write(results_path(self.root, step, self.shard), json.dumps(data, sort_keys=True))


def load(root, step, name):
    """``(options, results)`` of every shard of dataset ``name``'s ``step`` in ``root``; an incomplete or mixed set
    of shards is a `DatasetError` naming what is missing. None when no shard ran."""
    found = sorted(Path(root).glob(f"prepare_{step}_results.shard-*-of-*.json"))
    if not found:
        return None
    shards = [json.loads(path.read_text()) for path in found]
    counts = {data["shard"][1] for data in shards}
    options = {json.dumps(data["options"], sort_keys=True) for data in shards}
    if len(counts) > 1 or len(options) > 1:
        raise DatasetError(f"{root}: the prepare_{step}_results.shard-*.json files come from different runs "
                           f"({len(counts)} shard counts, {len(options)} sets of options); delete the stale ones")
    count = counts.pop()
    missing = sorted(set(range(1, count + 1)) - {data["shard"][0] for data in shards})
    if missing:
        raise DatasetError(f"{root}: shard(s) {', '.join(f'{k}/{count}' for k in missing)} of {step} have not "
                           f"written their results; run prepare.py {name} {step} --shard K/{count} for them first")
    results = {}
    for data in shards:
        results.update(data["results"])
    return shards[0]["options"], results
