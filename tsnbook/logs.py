"""Training logs: one JSON object per line (``log.jsonl``), appended and flushed record by record, easy to plot."""
import json
from pathlib import Path


class JsonLog:
    """Append-only JSON-lines log: one ``json.dumps`` per line, flushed on every write, easy to plot."""

    def __init__(self, path):
        self.path = Path(path)

    def write(self, **record):
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


def read_log(path):
    """The records of a ``log.jsonl`` file, as a list of dicts."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
