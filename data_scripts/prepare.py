#!/usr/bin/env python
"""Prepare a real dataset for the zoo configs, in MMAction2's layout, one command per dataset:

    python data_scripts/prepare.py DATASET STEP --root ROOT [--workers N]

STEP: download | extract | lists | verify | all (the four in order) | report (merge the shards of extract and
verify run with --shard K/N on several machines) | replica (write the dataset's miniature into ROOT, for the
course and the tests). Each step is resumable and prints what it did and skipped. Exit 0: ok; 1: problems found
(listed in ROOT/prepare_<step>_report.txt); 2: the step could not run (the message says why and what to do).
All logic lives in `tsnbook.datasets` (`tsnbook/datasets/command.py`); see --help.
"""
import sys

from tsnbook.datasets.command import main

if __name__ == "__main__":
    sys.exit(main())
