"""``extract`` and ``verify`` split over machines (``--shard K/N``): disjoint, deterministic shares that cover
every video, and shards whose merged reports (the ``report`` step) are the ones a single machine writes."""
import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import file_lines, prepare_cli
from tsnbook.datasets import archives, ucf101
from tsnbook.datasets.shards import Shard
from tsnbook.datasets.verify import describe_names

SHARDS = 3


def test_shares_are_disjoint_deterministic_and_cover_everything():
    names = [f"v_{i:05d}" for i in range(1000)] + ["-mmq0PT-u8k_00155", "(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1"]
    held = [[k for k in range(1, 5) if Shard(k, 4).holds(name)] for name in names]
    assert all(len(ks) == 1 for ks in held)  # each name in exactly one share
    sizes = [sum(ks == [k] for ks in held) for k in range(1, 5)]
    assert min(sizes) > 200  # about a quarter each
    assert Shard.parse("2/4") == Shard(2, 4) and Shard(2, 4).suffix == ".shard-2-of-4"
    for bad in ("0/4", "5/4", "2", "a/b", "2/4/8"):
        with pytest.raises(ValueError, match=r"expected K/N with 1 <= K <= N"):
            Shard.parse(bad)


def _tree(root, folder):
    """{frame folder: its naming} under ``root/folder``: what extraction left on disk."""
    found = {}
    for path, dirs, files in os.walk(root / folder):
        if files:
            found[Path(path).relative_to(root).as_posix()] = describe_names(files)
    return found


def _text(path, root):
    return path.read_text().replace(str(root), "ROOT")


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    """The UCF101 replica with its archives unpacked (``extract --frames none``, once, on one machine)."""
    if archives.rar_backend() is None:
        pytest.fail(f"UCF101.rar cannot be extracted here: {archives.RAR_HELP}")
    root = tmp_path_factory.mktemp("ucf101")
    ucf101.make_replica(root)
    code, printed = prepare_cli(["ucf101", "extract", "--frames", "none", "--root", str(root), "--workers", "1"])
    assert code == 0, printed
    return root


def test_the_union_of_the_shards_is_the_single_machine_run(unpacked, tmp_path):
    one, many = tmp_path / "one", tmp_path / "many"
    shutil.copytree(unpacked, one)
    shutil.copytree(unpacked, many)
    gap = "rawframes/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01/img_00002.jpg"  # a frame folder with a gap, too
    for step in ("extract", "lists", "verify"):
        assert prepare_cli(["ucf101", step, "--root", str(one), "--workers", "1"])[0] == 1  # the corrupt video
        if step == "extract":
            (one / gap).unlink()
    for step in ("extract", "verify"):
        for k in range(1, SHARDS + 1):
            code, printed = prepare_cli(["ucf101", step, "--shard", f"{k}/{SHARDS}", "--root", str(many), "--workers",
                                         "1"])
            assert code in (0, 1) and f"ucf101 {step} (shard {k}/{SHARDS})" in printed, printed
        if step == "extract":
            (many / gap).unlink()
            assert _tree(many, "rawframes") == _tree(one, "rawframes")  # every video's frames, once
            prepare_cli(["ucf101", "lists", "--root", str(many), "--workers", "1"])
    code, printed = prepare_cli(["ucf101", "report", "--root", str(many), "--workers", "1"])
    assert code == 1 and "ucf101 extract in" in printed and "ucf101 verify in" in printed
    for name in ("prepare_extract_report.txt", "prepare_lists_report.txt", "prepare_verify_report.txt"):
        assert _text(many / name, many) == _text(one / name, one), name
    for name in sorted(p.name for p in one.glob("ucf101_*.txt")):
        assert file_lines(many / name) == file_lines(one / name), name
    # Each shard checked its own share, the shares are disjoint, and together they are the single run's checks;
    # its report holds the problems about its own videos and frame folders.
    results = [json.loads((many / f"prepare_verify_results.shard-{k}-of-{SHARDS}.json").read_text())["results"]
               for k in range(1, SHARDS + 1)]
    assert all(results) and sum(len(r) for r in results) == len(set().union(*results))
    problems = [line for k in range(1, SHARDS + 1) for line in file_lines(
        many / f"prepare_verify_report.shard-{k}-of-{SHARDS}.txt") if line.startswith(("error\t", "warning\t"))]
    about_files = ("unreadable", "truncated", "zero frames", "frame count", "template", "index base")
    single = [line for line in file_lines(one / "prepare_verify_report.txt")
              if line.startswith(("error\t", "warning\t")) and line.split("\t")[1] in about_files]
    assert {line.split("\t")[1] for line in single} == {"truncated", "frame count"}  # the cut video; the gap
    assert sorted(p.replace(str(many), "ROOT") for p in problems) == sorted(p.replace(str(one), "ROOT") for p in single)


def test_a_missing_shard_or_a_step_that_is_not_split_stop_with_what_to_do(unpacked, tmp_path):
    root = tmp_path / "ucf101"
    shutil.copytree(unpacked, root)
    code, printed = prepare_cli(["ucf101", "report", "--root", str(root)])
    assert code == 2 and "no shard has written its results" in printed
    assert prepare_cli(["ucf101", "verify", "--shard", "2/2", "--root", str(root), "--workers", "1"])[0] in (0, 1)
    code, printed = prepare_cli(["ucf101", "report", "--root", str(root)])
    assert code == 2 and "shard(s) 1/2 of verify have not written their results; run prepare.py ucf101 verify " \
                          "--shard K/2" in printed
    code, printed = prepare_cli(["ucf101", "lists", "--shard", "1/2", "--root", str(root)])
    assert code == 2 and "only extract and verify are split over machines" in printed
    shutil.rmtree(root / "videos")
    code, printed = prepare_cli(["ucf101", "extract", "--shard", "1/2", "--root", str(root)])
    assert code == 2 and "unpack the archives once, on one machine (prepare.py ucf101 extract --frames none)" in printed
