"""The folder dataset (your own videos): a new user's folder from prepare.py to a prediction, each bad input named
once; the split (stratified, group-aware, seeded); the CSV route; config.py (the schedule, an edited file kept);
links that follow the videos; frames when asked."""
import csv
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tsnbook import cli
from tsnbook.datasets import (command, folder, folder_config, folder_replica, folder_source, folder_split, folder_walk,
                              replica)
from tsnbook.datasets.files import AnnotationError, DatasetError
from tsnbook.io import write_video

CPU_BASE = folder_config.CPU_BASE
STEPS = ("download", "extract", "lists", "verify")


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    """A user's folder: `folder.make_replica` (spaces and non-ASCII letters in class names, takes of 3 clips in
    subfolders, an empty class, a text file, a zero-byte video, a copy, a cut video, a class of one take)."""
    root = tmp_path_factory.mktemp("user") / "my videos"
    made = folder.make_replica(root)
    return root, made["problems"]


def prepare(*argv):
    """``prepare.py ARGV``: (exit status, printed lines)."""
    printed = []
    status = command.main([str(a) for a in argv], log=printed.append)
    return status, "\n".join(printed)


def problems(root, steps=STEPS):
    """[(severity, kind, path, reason)] of the reports of ``steps`` in ``root``."""
    found = []
    for step in steps:
        path = Path(root) / f"prepare_{step}_report.txt"
        if path.is_file():
            found += [tuple(line.split("\t", 3)) for line in path.read_text().splitlines()
                      if line.startswith(("error\t", "warning\t"))]
    return found


def _main(argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([str(a) for a in argv])
    return str(exit_info.value.code)


def test_a_new_users_folder_goes_from_prepare_to_a_prediction_each_problem_named_once(src, tmp_path, monkeypatch,
                                                                                     capsys):
    videos, planted = src
    monkeypatch.chdir(tmp_path)
    status, printed = prepare("folder", "all", "--root", "data/mine", "--videos", videos, "--group",
                              folder_replica.REPLICA_GROUP, "--test", "0.2", "--base", CPU_BASE, "--workers", "1")
    assert status == 0, printed
    assert "nothing to download" in printed and printed.count("ok: training can start") == 2
    found = problems("data/mine")
    expected = {(str(planted["empty_class"]), "count"), (str(planted["stray"]), "stray"),
                (str(planted["zero_bytes"]), "unreadable"), (str(planted["duplicate"]), "duplicate"),
                (str(planted["too_few"]), "count")}
    expected |= {(str(videos / cls), "name") for cls in folder_replica.REPLICA_CLASSES}
    named = Counter((path, kind) for _, kind, path, _ in found)
    cut = [key for key in named if key[0] == str(planted["cut"])]
    assert len(cut) == 1 and cut[0][1] in ("unreadable", "truncated")
    assert set(named) - set(cut) == expected and set(named.values()) == {1}  # each named once, by one step
    assert all(severity == "warning" for severity, *_ in found)  # left out and named: the rest trains
    reasons = {(path, kind): reason for _, kind, path, reason in found}
    assert reasons[str(planted["empty_class"]), "count"].startswith("no videos in this class folder: not a class")
    assert "left out of the lists" in reasons[str(planted["zero_bytes"]), "unreadable"]
    assert reasons[str(planted["duplicate"]), "duplicate"].startswith(f"the same bytes as {videos}/purple ball/take 4/"
                                                                      "clip 1.mp4: left out")
    assert "'Café crème'" in reasons[str(videos / "Café crème"), "name"]
    assert "too few to split into 3 subsets: all train" in reasons[str(planted["too_few"]), "count"]
    warnings = [line for line in printed.splitlines() if line.startswith("  warning: ")]
    assert len(warnings) == len(set(warnings))  # what is printed names each problem at most once too

    root = Path("data/mine")
    assert (root / "classes.txt").read_text() == "Café crème\npurple ball\nred ball\nyellow ball\n"
    with open(root / "videos.csv") as f:
        take = {row["video"]: (row["class"], row["within"].split("/")[0]) for row in csv.DictReader(f)}
    sides = {}
    for split in ("train", "val", "test"):
        for line in (root / f"{split}_videos.txt").read_text().splitlines():
            path, label = line.split(" ")
            sides.setdefault(take[path], set()).add(split)
            assert " " not in path and path.isascii()
    assert all(len(s) == 1 for s in sides.values())  # every take on one side of the split
    for held in ("val", "test"):
        assert {cls for (cls, _), s in sides.items() if s == {held}} == {"Café crème", "purple ball", "red ball"}
    assert (root / "videos" / "red_ball" / "take_1__clip_1.mp4").resolve() == videos / "red ball/take 1/clip 1.mp4"

    # the four commands of the README's section (a CPU-sized base, one epoch)
    assert _main(["train", root / "config.py", "--validate", "--cfg-options", "epochs=1", "lr_steps=[]",
                  "--device", "cpu", "--no-progress"]) == "0"
    run = Path("work_dirs/mine_tsn")
    assert _main(["test", run / "best.pth", "--eval", "confusion_matrix", "--out", run / "scores.npz", "--device",
                  "cpu", "--no-progress"]) == "0"
    tested = capsys.readouterr().out
    test_list = (root / "test_videos.txt").read_text().splitlines()  # the config's test list, not val's
    assert f"num_videos: {len(test_list)}" in tested and folder_config.check(root / "config.py")["ann_file_test"] \
        == "test_videos.txt"
    assert "confusion matrix (rows: true class, columns: predicted class)" in tested and "0 Café crème" in tested
    assert (run / "scores_confusion_matrix.png").is_file()
    assert _main(["predict", run / "best.pth", videos / "red ball" / "take 2" / "clip 1.mp4", "--device", "cpu"]) == "0"
    predicted = capsys.readouterr().out
    assert all(f"{name}  " in predicted for name in ("Café crème", "purple ball", "red ball", "yellow ball"))


def _videos(counts, group_size=1):
    """[(key, class, group)]: ``counts`` {class: videos}, in groups of ``group_size``."""
    return [(f"{cls}/v{i}", cls, f"g{i // group_size}") for cls, n in counts.items() for i in range(n)]


def test_the_split_is_stratified_group_aware_seeded_and_deterministic():
    videos = _videos({"a": 40, "b": 20}, group_size=2) + _videos({"c": 3}, group_size=3) + _videos({"d": 3})
    split, too_small = folder_split.assign(videos, val=0.2, test=0.1, seed=0)
    assert too_small == {"c": (3, 1)} and all(split[key] == "train" for key, cls, _ in videos if cls == "c")
    for cls, n in (("a", 40), ("b", 20)):
        share = Counter(split[key] for key, c, _ in videos if c == cls)
        assert abs(share["val"] - 0.2 * n) <= 1 and abs(share["test"] - 0.1 * n) <= 1 and share["train"] > 0.6 * n
    assert Counter(split[key] for key, cls, _ in videos if cls == "d") == {"train": 1, "val": 1, "test": 1}
    sides = {}
    for key, cls, group in videos:
        sides.setdefault((cls, group), set()).add(split[key])
    assert all(len(s) == 1 for s in sides.values())  # a group never straddles the split
    assert folder_split.assign(videos, 0.2, 0.1, seed=0)[0] == split  # deterministic
    other = folder_split.assign(videos, 0.2, 0.1, seed=1)[0]
    assert other != split and Counter(other.values()) == Counter(split.values())  # the seed moves videos, not shares
    grown = folder_split.assign(videos + _videos({"e": 30}), 0.2, 0.1, seed=0)[0]
    assert all(grown[key] == side for key, side in split.items())  # a new class leaves the others' split alone
    alone, _ = folder_split.assign([(k, c, None) for k, c, _ in videos], 0.2, 0.0, seed=0)
    assert Counter(alone[key] for key, cls, _ in videos if cls == "a") == {"train": 32, "val": 8}  # no groups


def test_group_regex_names_the_source_video():
    pattern = folder_split.compile_group(r"_g(\d+)_")
    assert folder_split.group_of(pattern, "v_Drum_g03_c01.avi") == "03"
    assert folder_split.group_of(folder_split.compile_group("^[^/]+"), "take 2/clip 1.mp4") == "take 2"
    assert folder_split.group_of(pattern, "clip.mp4") is None
    with pytest.raises(ValueError, match=r"--group '_g\(\\d\+_' is not a regular expression"):
        folder_split.compile_group(r"_g(\d+_")


def test_the_csv_route_names_a_missing_file_and_refuses_an_unknown_split(src, tmp_path):
    videos, _ = src
    table = tmp_path / "mine.csv"
    table.write_text("path,label,split\n"
                     "red ball/take 1/clip 1.mp4,red ball,train\n"
                     "red ball/take 2/clip 1.mp4,red ball,val\n"
                     "purple ball/take 1/clip 1.mp4,purple ball,train\n"
                     "purple ball/take 1/clip 9.mp4,purple ball,train\n"
                     "purple ball/take 3/clip 1.mp4,purple ball,val\n"
                     "red ball/take 1/clip 1.mp4,red ball,train\n")
    root = tmp_path / "root"
    status, printed = prepare("folder", "lists", "--root", root, "--videos", videos, "--annotations", table,
                              "--base", CPU_BASE, "--workers", "1")
    assert status == 1  # an error: a line names a file that is not there
    found = {(kind, path): (severity, reason) for severity, kind, path, reason in problems(root)}
    assert found[("missing", str(videos / "purple ball/take 1/clip 9.mp4"))] == (
        "error", f"listed at {table}:5, not on disk: left out of the lists; fix the path in the CSV (relative to "
                 f"{videos})")
    assert found[("duplicate", f"{table}:7")][1] == f"listed twice (first at {table}:2): left out the second time"
    assert (root / "train_videos.txt").read_text() == ("red_ball/red_ball__take_1__clip_1.mp4 1\n"  # the CSV's order
                                                      "purple_ball/purple_ball__take_1__clip_1.mp4 0\n")
    assert (root / "val_videos.txt").read_text() == ("red_ball/red_ball__take_2__clip_1.mp4 1\n"
                                                    "purple_ball/purple_ball__take_3__clip_1.mp4 0\n")
    assert (root / "classes.txt").read_text() == "purple ball\nred ball\n"

    table.write_text("red ball/take 1/clip 1.mp4,red ball,train\nred ball/take 2/clip 1.mp4,red ball,tset\n")
    status, printed = prepare("folder", "lists", "--root", root, "--annotations", table)
    assert status == 2 and printed == (f"error: {table}:2: unknown split 'tset': use train, val or test (or leave the "
                                       "column empty on every line: prepare.py then splits by --val and --test)")
    table.write_text("red ball/take 1/clip 1.mp4,red ball,train\nred ball/take 2/clip 1.mp4,red ball\n")
    with pytest.raises(AnnotationError, match=r"mine.csv:2: no split where other lines give one"):
        folder.take_in(root, folder.Report("folder", "extract", root), folder.Work(root, 1))


def test_options_and_places_are_checked_before_anything_runs(src, tmp_path):
    videos, _ = src
    status, printed = prepare("ucf101", "lists", "--root", tmp_path / "u", "--videos", videos)
    assert status == 2 and printed == "error: --videos: options of the folder dataset (your own videos), not of ucf101"
    for argv, message in (
            (["--videos", tmp_path / "nowhere"], f"--videos {tmp_path / 'nowhere'}: no such folder"),
            (["--videos", videos, "--val", "0.6", "--test", "0.5"], "--val 0.6 --test 0.5: together below 1"),
            (["--videos", videos, "--group", "(unclosed"], "--group '(unclosed' is not a regular expression"),
            (["--videos", videos, "--base", "tsn_r50_nonsense"], "--base tsn_r50_nonsense: unknown config"),
    ):
        status, printed = prepare("folder", "lists", "--root", tmp_path / "r", *argv)
        assert status == 2 and printed.startswith(f"error: {message}"), printed
    status, printed = prepare("folder", "lists", "--root", videos / "data", "--videos", videos)
    assert status == 2 and "is inside --videos" in printed and not (videos / "data").exists()
    one = tmp_path / "one class"
    (one / "only").mkdir(parents=True)
    write_video(one / "only" / "a.mp4", replica.render_clip(np.random.default_rng(0), 8, 64, 64, (200, 0, 0), (1, 1)),
                fps=25)
    status, printed = prepare("folder", "extract", "--root", tmp_path / "one", "--videos", one, "--workers", "1")
    assert status == 2 and "1 class(es) with usable videos; a classifier needs at least 2" in printed


def test_config_py_fits_the_schedule_to_the_data_and_an_edited_file_is_kept(src, tmp_path):
    row = folder_config.base_config(folder_config.DEFAULT_BASE)  # batch 32, 50 epochs, lr_steps [20, 40]
    assert folder_config.schedule(row, 3570)[0] == dict(batch_size=32, epochs=50, lr_steps=[20, 40], eval_interval=5)
    assert folder_config.schedule(row, 30)[0] == dict(batch_size=4, epochs=50, lr_steps=[20, 40], eval_interval=5)
    assert folder_config.schedule(row, 5)[0] == dict(batch_size=2, epochs=100, lr_steps=[40, 80], eval_interval=10)
    synth = folder_config.base_config("tsn_r18_1x1x3_12e_synthactions_rgb")  # lr written for its batch of 16
    assert folder_config.schedule(synth, 30)[0] == dict(batch_size=4, epochs=29, lr_steps=[19, 27],
                                                        eval_interval=3, lr_base_batch=16)
    videos, _ = src
    root = tmp_path / "mine"
    checkpoint = tmp_path / "weights.pth"
    status, printed = prepare("folder", "all", "--root", root, "--videos", videos, "--load-from", checkpoint,
                              "--workers", "1")
    assert status == 1  # the lists are fine, but training cannot start without its weights
    text = (root / "config.py").read_text()
    assert all(len(line) <= 120 for line in text.splitlines())
    assert f"base = '{folder_config.DEFAULT_BASE}'" in text and f"load_from = '{checkpoint}'" in text
    cfg = folder_config.check(root / "config.py")
    assert (cfg["num_classes"], cfg["label_map"], cfg["pretrained"], cfg["backbone"]) == (4, "classes.txt", None,
                                                                                         "resnet50")
    assert (cfg["data_root"], cfg["data_prefix"], cfg["source"], cfg["ann_file_test"]) == (str(root), "videos",
                                                                                          "video", "val_videos.txt")
    load_from = [p for p in problems(root) if p[1] == "missing"]
    assert load_from == [("error", "missing", str(checkpoint), load_from[0][3])]
    assert load_from[0][3].startswith(f"--load-from {checkpoint}: no such file;")  # the one given, not "pass it"
    assert "pass --load-from" not in load_from[0][3] and "train stops without it" in load_from[0][3]
    checkpoint.write_bytes(b"weights, downloaded")
    edited = text.replace("epochs = 50", "epochs = 7")
    (root / "config.py").write_text(edited)
    status, printed = prepare("folder", "lists", "--root", root, "--test", "0.2")
    assert status == 0 and (root / "config.py").read_text() == edited  # the weights are there now
    assert "edited by you, so kept" in printed and "ann_file_test = 'test_videos.txt'" in \
        (root / "config.new.py").read_text()
    # keeping your edit is no problem to report; a new --test is: the split is made anew
    assert [(kind, Path(path).name) for _, kind, path, _ in problems(root, ["lists"])] == [("annotation", "split.json")]
    assert f"next: python -m tsnbook train {root / 'config.py'} --validate (your edited config.py; config.new.py " \
        f"holds what prepare.py would write now: diff {root / 'config.py'} {root / 'config.new.py'})" in printed
    status, printed = prepare("folder", "lists", "--root", root, "--base", CPU_BASE)  # the weights go with the row
    assert status == 0 and "load_from" not in (root / "config.new.py").read_text()


def test_links_follow_the_videos_and_frames_come_when_asked(src, tmp_path):
    videos, _ = src
    moved = tmp_path / "my videos"
    shutil.copytree(videos, moved, symlinks=True)
    root = tmp_path / "mine"
    assert prepare("folder", "all", "--root", root, "--videos", moved, "--base", CPU_BASE, "--workers", "1")[0] == 0
    shutil.rmtree(moved / "red ball" / "take 1")
    status, printed = prepare("folder", "verify", "--root", root, "--workers", "1")
    assert status == 1
    gone = problems(root, ["verify"])
    assert len(gone) == 3 and all("its link points nowhere" in p[3] for p in gone)
    status, printed = prepare("folder", "extract", "--root", root, "--frames", "rgb", "--workers", "1")
    assert status == 0 and "links removed (the video is gone or unusable) 3" in printed
    assert not (root / "videos" / "red_ball" / "take_1__clip_1.mp4").is_symlink()
    status, printed = prepare("folder", "lists", "--root", root, "--workers", "1")
    assert status == 0
    frames = (root / "train_rawframes.txt").read_text().splitlines()
    assert frames and all(line.split()[1] == "24" for line in frames)  # 24 frames each, as the clips have
    assert prepare("folder", "verify", "--root", root, "--workers", "1")[0] == 0
    assert os.path.islink(root / "videos" / "purple_ball" / "take_1__clip_1.mp4")


def test_folder_names_become_link_names_list_files_hold():
    assert folder_source.slug("Café crème") == "Cafe_creme"
    assert folder_source.unsafe_reason("Café crème") == "spaces and non-ASCII letters"
    assert folder_source.unsafe_reason("take_1-a.MP4") is None
    with pytest.raises(DatasetError, match="no videos given yet"):
        folder.take_in(Path("/nonexistent-root"), None, None)


def test_a_class_folder_s_m4v_and_mpg_videos_are_taken_and_other_files_reported(tmp_path):
    # the containers phones, cameras and archives write (tsnbook.io.VIDEO_EXTENSIONS), as predict takes them
    from tsnbook.datasets.report import Report
    for name in ("phone.m4v", "camera.MPG", "notes.txt"):
        (tmp_path / "wave" / "take 1").mkdir(parents=True, exist_ok=True)
        (tmp_path / "wave" / "take 1" / name).write_bytes(b"x")
    report = Report("folder", "extract", tmp_path)
    classes, found = folder_walk.walk_folder(tmp_path, report)
    assert classes == ["wave"] and [c.within for c in found] == ["take 1/camera.MPG", "take 1/phone.m4v"]
    assert [(p.kind, Path(p.path).name) for p in report.problems] == [("stray", "notes.txt")]


def test_the_header_offers_a_smaller_base_only_when_it_is_smaller(tmp_path):
    """The header's "Smaller: --base CPU_BASE" hint is for a base that costs more than CPU_BASE (a ResNet-18 on
    40-px crops); on a base of that size (notebook 00's ResNet-18 recipe) it would offer the same cost again."""
    def header(base):
        text, _ = folder_config.contents(tmp_path / "mine", base, ["a", "b"], dict(train="train_videos.txt",
                                                                                   val="val_videos.txt"), 30)
        return " ".join(word for word in text.split() if word != "#")  # the comment's lines joined

    assert f"Smaller: prepare.py folder lists --base {CPU_BASE}" in header(folder_config.DEFAULT_BASE)
    for same_size in ("tsn_r18_1x1x3_12e_synthactions_rgb", CPU_BASE):
        assert "Slow on a CPU?" not in header(same_size) and "Smaller:" not in header(same_size)


def test_duplicates_are_found_without_python_3_11s_file_digest(tmp_path, monkeypatch):
    """pyproject promises Python 3.10, which has no hashlib.file_digest: the files are hashed in chunks."""
    import hashlib
    monkeypatch.delattr(hashlib, "file_digest", raising=False)
    for name, data in (("a.mp4", b"same" * 300_000), ("a copy.mp4", b"same" * 300_000), ("b.mp4", b"diff" * 300_000)):
        (tmp_path / name).write_bytes(data)
    candidates = [folder_source.Candidate(tmp_path / name, "c", name, name)
                  for name in ("a.mp4", "a copy.mp4", "b.mp4")]
    found = folder_source.duplicates(candidates)
    assert {c.within: kept.within for c, kept in found.items()} == {"a copy.mp4": "a.mp4"}
    # a copy added after a split keeps the video on record, whatever the names: it is the one trained on
    found = folder_source.duplicates(candidates, on_record={("c", "a copy.mp4")})
    assert {c.within: kept.within for c, kept in found.items()} == {"a.mp4": "a copy.mp4"}


def _clip(path, seed, colour=(200, 0, 0)):
    """A tiny distinct video (8 frames, 64x64) at ``path``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_video(path, replica.render_clip(np.random.default_rng(seed), 8, 64, 64, colour, (1, 1)), fps=25)


def _sides(root):
    """{(class, path below the class folder): "train" | "val" | "test"} of ROOT's lists."""
    with open(Path(root) / "videos.csv") as f:
        source = {row["video"]: (row["class"], row["within"]) for row in csv.DictReader(f)}
    return {source[line.split(" ")[0]]: split for split in ("train", "val", "test")
            if (Path(root) / f"{split}_videos.txt").is_file()
            for line in (Path(root) / f"{split}_videos.txt").read_text().splitlines()}


def test_a_rerun_after_new_videos_keeps_every_video_on_its_side_of_the_split(tmp_path):
    """Videos a model trained on must never move into val or test when the user adds videos and runs lists again:
    each take keeps its side (split.json), only the new takes are assigned, vanished ones stay on record."""
    src, root = tmp_path / "my videos", tmp_path / "mine"
    colours = {"jump": (230, 60, 60), "run": (60, 230, 60)}
    for c, cls in enumerate(colours):
        for take in range(5):
            for clip in range(2):
                _clip(src / cls / f"take {take}" / f"clip {clip}.mp4", 100 * c + 10 * take + clip, colours[cls])
    options = ["--group", "^[^/]+", "--test", "0.2", "--base", CPU_BASE, "--workers", "1"]
    assert prepare("folder", "lists", "--root", root, "--videos", src, *options)[0] == 0
    before = _sides(root)
    assert set(before.values()) == {"train", "val", "test"}
    for c, cls in enumerate(colours):
        for take in range(5, 12):
            for clip in range(2):
                _clip(src / cls / f"take {take}" / f"clip {clip}.mp4", 100 * c + 10 * take + clip, colours[cls])
    gone = next(key for key, side in before.items() if key[0] == "jump" and side == "train")
    shutil.rmtree(src / gone[0] / gone[1].split("/")[0])
    status, printed = prepare("folder", "lists", "--root", root, "--workers", "1")
    assert status == 0, printed
    after = _sides(root)
    assert {key: side for key, side in before.items() if key in after} == \
        {key: side for key, side in after.items() if key in before}  # nothing moved
    record = json.loads((root / "split.json").read_text())
    assert gone not in after and record["videos"]["jump"][gone[1]] == "train"  # on record, should it return
    assert len(record["videos"]["jump"]) == 24 and "2 on record but absent now: their side kept" in printed
    new = {key: side for key, side in after.items() if key not in before}
    assert len(new) == 28 and {"val", "test"} <= set(new.values())  # the new takes fill the shares
    for cls in colours:
        share = Counter(side for (c, _), side in after.items() if c == cls)
        assert all(abs(share[side] - 0.2 * sum(share.values())) <= 2 for side in ("val", "test"))
    assert "split kept" in printed

    status, printed = prepare("folder", "lists", "--root", root, "--seed", "1", "--workers", "1")
    assert status == 0 and _sides(root) != after
    anew = [p for p in problems(root, ["lists"]) if "split anew" in p[3]]
    assert len(anew) == 1 and "--seed 1 (was 0)" in anew[0][3] and "no longer held out" in anew[0][3]
    assert json.loads((root / "split.json").read_text())["seed"] == 1


def test_the_split_of_new_groups_goes_toward_their_class_s_shares():
    videos = _videos({"a": 20, "b": 3}, group_size=2)
    first, _ = folder_split.assign(videos, val=0.2, test=0.2, seed=0)
    grown = videos + [(f"a/n{i}", "a", f"n{i // 2}") for i in range(20)] + [("b/v0b", "b", "g0")]
    kept = {key: side for key, side in first.items() if key != "a/v0"}
    again, too_small = folder_split.assign(grown[1:], val=0.2, test=0.2, seed=0, kept=kept)
    assert all(again[key] == side for key, side in kept.items())
    assert again["b/v0b"] == first["b/v0"]  # a new clip of a known group joins its group's side
    share = Counter(side for key, side in again.items() if key.startswith("a/"))
    assert abs(share["val"] - 0.2 * 39) <= 2 and abs(share["test"] - 0.2 * 39) <= 2
    assert folder_split.assign(grown[1:], 0.2, 0.2, seed=0, kept=kept)[0] == again  # deterministic


def test_a_csv_that_contradicts_itself_is_an_error_naming_both_lines(tmp_path):
    for name in ("a.mp4", "b.mp4", "c.mp4", "d.mp4", "e.mp4"):
        (tmp_path / name).write_bytes(b"x")
    table = tmp_path / "mine.csv"
    table.write_text("a.mp4,jump,train,g1\nb.mp4,jump,train,g2\na.mp4,run,train,g1\nc.mp4,jump,val,g2\n"
                     "d.mp4,Jump,train,g3\ne.mp4,jump,train,g4\n./e.mp4,jump,val,g4\n")
    report = folder.Report("folder", "extract", tmp_path)
    found = folder_source.read_csv(table, None, report)
    named = [(p.severity, p.kind, p.path, p.reason) for p in report.problems]
    assert named == [
        ("error", "label", f"{table}:3", f"listed at {table}:1 with label 'jump', here with label 'run': give the "
                                         "video one label (both lines left out)"),
        ("error", "annotation", f"{table}:7", f"listed at {table}:6 with split 'train', here with split 'val': give "
                                              "the video one split (both lines left out)"),
        ("warning", "label", f"{table}:5", f"label 'Jump' here, 'jump' at {table}:1: two classes whose names differ "
                                           "only in case; spell them alike if they are one"),
        ("error", "annotation", f"{table}:4", "group 'g2' of class 'jump' on 2 sides of the split (train: line 2; "
                                              "val: line 4): a clip whose sibling trains is a near-duplicate, and the "
                                              "held-out numbers come out too high; give the group's lines one split")]
    assert [c.within for c in found] == ["b.mp4", "c.mp4", "d.mp4"]


def test_links_into_scanned_folders_are_named_once_and_not_followed(tmp_path):
    src, outside = tmp_path / "src", tmp_path / "outside"
    for path in (src / "jump" / "a.mp4", src / "jump" / "sub" / "b.mp4", src / "run" / "c.mp4",
                 outside / "d.mp4", src / ".hidden class" / "e.mp4", src / "run" / ".hidden.mp4"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(path.name.encode())
    os.symlink("..", src / "run" / "loop")
    os.symlink(src / "jump", src / "run" / "linked jump")
    os.symlink(outside, src / "jump" / "outside")
    os.symlink(outside, src / "run" / "outside too")
    report = folder.Report("folder", "extract", tmp_path)
    classes, found = folder_walk.walk_folder(src, report)
    assert classes == ["jump", "run"]
    assert sorted(c.within for c in found) == ["a.mp4", "c.mp4", "outside/d.mp4", "sub/b.mp4"]
    named = Counter(p.path for p in report.problems)
    assert set(named) == {str(src / "run" / "loop"), str(src / "run" / "linked jump"), str(src / "run" / "outside too")}
    assert set(named.values()) == {1} and all("not followed: it leads to" in p.reason for p in report.problems)
    reasons = {Path(p.path).name: p.reason for p in report.problems}
    assert reasons["loop"].endswith("which holds SRC (a loop)") and "inside SRC" in reasons["linked jump"]
    assert reasons["outside too"].endswith(f"already scanned (through a link to {outside})")
    assert report.notes == ["2 hidden file(s) or folder(s) (names starting with '.') ignored, e.g. "
                            f"{src / '.hidden class'}"]


def test_no_videos_given_stops_before_any_ok_line(tmp_path):
    status, printed = prepare("folder", "all", "--root", tmp_path / "fresh")
    assert status == 2 and "ok:" not in printed and "no videos given yet" in printed


def _takes(src, takes, classes=("jump", "run")):
    """Takes ``takes`` (numbers) of 2 clips each in each class folder of ``src``."""
    colours = [(230, 60, 60), (60, 230, 60), (60, 60, 230)]
    for c, cls in enumerate(classes):
        for take in takes:
            for clip in range(2):
                _clip(src / cls / f"take {take}" / f"clip {clip}.mp4", 100 * c + 10 * take + clip, colours[c])


SPLIT_OPTIONS = ("--group", "^[^/]+", "--test", "0.2", "--base", CPU_BASE, "--workers", "1")


def test_a_root_prepared_before_split_json_keeps_its_split_on_the_first_rerun(tmp_path):
    """A root whose lists were written before split.json existed: the record is rebuilt from its lists and
    videos.csv (before extract rewrites them), so the re-run moves none of the videos a model trained on."""
    src, root = tmp_path / "my videos", tmp_path / "mine"
    _takes(src, range(5))
    assert prepare("folder", "lists", "--root", root, "--videos", src, *SPLIT_OPTIONS)[0] == 0
    before = _sides(root)
    (root / "split.json").unlink()  # as the lists were before the record existed
    _takes(src, range(5, 12))
    status, printed = prepare("folder", "all", "--root", root, "--workers", "1")
    assert status == 0, printed
    after = _sides(root)
    assert {key: after[key] for key in before} == before
    assert "split.json rebuilt from the lists" in printed and "split kept: 20 video(s)" in printed
    assert len(json.loads((root / "split.json").read_text())["videos"]["jump"]) == 24


def test_a_video_absent_for_a_while_keeps_its_side_on_record(tmp_path):
    """A take moved away and back (an unmounted disk, a probe that failed once) is not new when it returns: the
    record keeps the side of what is absent, and says so in one note."""
    src, root, away = tmp_path / "my videos", tmp_path / "mine", tmp_path / "away"
    _takes(src, range(6))
    assert prepare("folder", "lists", "--root", root, "--videos", src, *SPLIT_OPTIONS)[0] == 0
    before = _sides(root)
    trained = sorted({within.split("/")[0] for (cls, within), side in before.items() if cls == "jump" and
                      side == "train"})[:2]
    away.mkdir()
    for take in trained:
        shutil.move(src / "jump" / take, away / take)
    _takes(src, range(6, 9))
    status, printed = prepare("folder", "lists", "--root", root, "--workers", "1")
    assert status == 0 and "4 on record but absent now: their side kept" in printed
    record = json.loads((root / "split.json").read_text())["videos"]["jump"]
    assert all(record[f"{take}/clip {clip}.mp4"] == "train" for take in trained for clip in range(2))
    for take in trained:
        shutil.move(away / take, src / "jump" / take)
    assert prepare("folder", "lists", "--root", root, "--workers", "1")[0] == 0
    after = _sides(root)
    assert {key: after[key] for key in before} == before


def test_a_renamed_class_keeps_its_videos_sides(tmp_path):
    """Renaming a class folder is not a new class of new videos: they keep their sides (matched by their path
    within the class), and the report says which class it took for which."""
    src, root = tmp_path / "my videos", tmp_path / "mine"
    _takes(src, range(8))
    assert prepare("folder", "lists", "--root", root, "--videos", src, *SPLIT_OPTIONS)[0] == 0
    before = _sides(root)
    (src / "jump").rename(src / "leap")
    status, printed = prepare("folder", "lists", "--root", root, "--workers", "1")
    assert status == 0 and "absent now" not in printed, printed  # jump's videos are there, as leap's
    after = _sides(root)
    assert {within: side for (cls, within), side in after.items() if cls == "leap"} == \
        {within: side for (cls, within), side in before.items() if cls == "jump"}
    renamed = [p for p in problems(root, ["lists"]) if "renamed" in p[3]]
    assert len(renamed) == 1 and "class 'leap'" in renamed[0][3] and "'jump'" in renamed[0][3]
    assert set(json.loads((root / "split.json").read_text())["videos"]) == {"jump", "leap", "run"}  # jump kept


def test_unmatched_new_and_gone_classes_are_a_warning():
    sides = {("jump", "a.mp4"): "train", ("jump", "b.mp4"): "val", ("run", "c.mp4"): "train"}
    sources = {"k1": ("hop", "x.mp4"), "k2": ("hop", "y.mp4"), "k3": ("run", "c.mp4")}
    renamed, unmatched = folder_split.renamed_classes(sides, sources)
    assert renamed == {} and unmatched == (["jump"], ["hop"])


def test_a_csv_group_across_classes_is_named(tmp_path):
    """One source video with clips of two actions: prepare.py splits per class, so a warning names the group, its
    classes and lines; a CSV split that puts it on two sides is the error a group on two sides of a class is."""
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (tmp_path / name).write_bytes(name.encode())
    table = tmp_path / "mine.csv"
    table.write_text("path,label,split,group\na.mp4,jump,,src1\nc.mp4,jump,,src2\nb.mp4,run,,src1\n")
    report = folder.Report("folder", "extract", tmp_path)
    assert len(folder_source.read_csv(table, None, report)) == 3
    assert [(p.severity, p.kind, p.path) for p in report.problems] == [("warning", "annotation", f"{table}:4")]
    assert report.problems[0].reason.startswith("group 'src1' holds clips of 2 classes (jump: line 2; run: line 4):")
    table.write_text("a.mp4,jump,train,src1\nc.mp4,jump,val,src2\nb.mp4,run,val,src1\n")
    report = folder.Report("folder", "extract", tmp_path)
    folder_source.read_csv(table, None, report)
    assert [(p.severity, p.kind, p.path) for p in report.problems] == [("error", "annotation", f"{table}:3")]
    assert report.problems[0].reason.startswith("group 'src1' of classes 'jump', 'run' on 2 sides of the split "
                                                "(train: line 1; val: line 3)")


def test_class_folders_that_are_links_are_followed_once(tmp_path):
    """A class folder that is a link goes through the same check as a link below one: a folder is scanned once,
    and a class that leads into another class's folder, or to one already scanned, is left out with one warning."""
    src, outside, elsewhere = tmp_path / "src", tmp_path / "outside", tmp_path / "elsewhere"
    for path in (src / "jump" / "a.mp4", outside / "sub" / "e.mp4", outside / "f.mp4", elsewhere / "g.mp4"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(path.name.encode())
    os.symlink(outside / "sub", src / "jump" / "s")
    os.symlink(outside, src / "run")
    os.symlink(src / "jump", src / "walk")
    os.symlink(elsewhere, src / "swim")
    report = folder.Report("folder", "extract", tmp_path)
    classes, found = folder_walk.walk_folder(src, report)
    assert classes == ["jump", "swim"]
    assert sorted((c.cls, c.within) for c in found) == [("jump", "a.mp4"), ("jump", "s/e.mp4"), ("swim", "g.mp4")]
    reasons = {Path(p.path).name: p.reason for p in report.problems}
    assert len(report.problems) == 2 and set(reasons) == {"run", "walk"}
    assert reasons["run"] == (f"not followed: it leads to {outside}, which holds {outside / 'sub'}, already scanned "
                              f"through a link: the rest of {outside} is not scanned; class 'run' left out")
    assert reasons["walk"].startswith(f"not followed: it leads to {src / 'jump'}, inside SRC") and \
        reasons["walk"].endswith("class 'walk' left out")


def test_too_few_classes_says_what_was_found_instead_of_videos(tmp_path):
    """A folder of frame folders (JPEG images, no videos) stopped with "0 class(es) with usable videos" and no
    report: the user was not told that their 10 files were images, nor what to do with frames."""
    src = tmp_path / "frames"
    for cls in ("jump", "run"):
        (src / cls / "take1").mkdir(parents=True)
        for index in range(1, 6):
            (src / cls / "take1" / f"img_{index:05d}.jpg").write_bytes(b"\xff\xd8\xff")
    status, printed = prepare("folder", "extract", "--root", tmp_path / "r", "--videos", src, "--workers", "1")
    assert status == 2 and "0 class(es) with usable videos" in printed
    assert "10 file(s) are not videos" in printed and "img_00001.jpg" in printed, printed
    assert "images" in printed and "ffmpeg" in printed, printed
