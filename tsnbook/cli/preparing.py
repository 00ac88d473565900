"""``prepare``: data_scripts/prepare.py from the installed package (a wheel holds tsnbook, not data_scripts/).

    python -m tsnbook prepare DATASET STEP --root ROOT [...]     # = python data_scripts/prepare.py DATASET STEP ...

It has its own parser (`tsnbook.datasets.command`), so `main` hands it the arguments untouched, as bench-data's.
"""


def run(argv):
    """The exit status of ``prepare.py ARGV`` (0 ok, 1 problems found, 2 a step could not run)."""
    from ..datasets.command import main
    return main(argv, prog="python -m tsnbook prepare")


def add_commands(sub, common):
    # listed here so that --help shows it; its options are prepare's (python -m tsnbook prepare --help)
    sub.add_parser("prepare", add_help=False, help="prepare a dataset or your own videos (as data_scripts/prepare.py; "
                                                   "prepare --help)")
