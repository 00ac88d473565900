"""``predict`` on many inputs and at the model's own sizes (issue 17 items 14 and 16, issue 20 item 1).

The model is a seeded random TSN saved as tsnbook saves runs (its resolved config and class names inside), so
the tests need no training: what they check is which views and videos reach the model, not what it learned.
"""
import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import cli_exit, random_checkpoint, small_config
from tsnbook.batch import predict_videos
from tsnbook.course.synth import CLASSES
from tsnbook.data import dataset_from_config
from tsnbook.factory import load_model
from tsnbook.features import extract_features
from tsnbook.predict import predict_video, test_views



@pytest.fixture(scope="module")
def rgb(tmp_path_factory, small_synth):
    """A 48-px SynthActions RGB checkpoint (8 classes) and its config."""
    cfg = small_config("rgb", small_synth, test_clips=2)
    return random_checkpoint(tmp_path_factory.mktemp("rgb") / "latest.pth", cfg, CLASSES), cfg


def _videos(small_synth, name, count=None):
    return sorted((small_synth / "videos" / name).glob("*.mp4"))[:count]


# ------------------------------------------------------------------------- issue 17, item 16: the model's sizes
def test_a_named_protocol_keeps_the_sizes_the_model_was_trained_at(rgb, small_synth):
    checkpoint, cfg = rgb
    video = _videos(small_synth, "RedBall")[0]
    model, info = load_model(checkpoint)
    views = test_views(video, "val", cfg=info["cfg"])
    assert views.shape[-2:] == (40, 40)  # the config's CenterCrop 40 after Resize(-1, 48), not 224 px
    own_val = dataset_from_config(dict(info["cfg"], test_clips=3, test_pipeline=info["cfg"]["val_pipeline"]), "test",
                                  [])
    with __import__("tsnbook").io.open_video(video) as reader:
        assert np.array_equal(views, own_val.load_from(reader)["imgs"])
    three = test_views(video, "25x3", cfg=info["cfg"])
    assert three.shape == (75, 3, 48, 48)  # ThreeCrop at the short side, as 256 is for the zoo
    scores = predict_video(model, video, "val", "score", cfg=info["cfg"])
    assert np.allclose(scores, model.score_views(views, "score"), atol=1e-5)


def test_cli_protocol_says_which_sizes_it_uses(rgb, small_synth, capsys):
    checkpoint, _ = rgb
    video = _videos(small_synth, "RedBall")[0]
    assert cli_exit(["predict", checkpoint, video, "--protocol", "25x3", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "25x3 at the model's sizes: short side 48, crops 48" in out, out


# ---------------------------------------------------------------------------- issue 17, item 14: few classes
def test_top_k_is_capped_and_explained_for_models_with_few_classes(tmp_path, small_synth, capsys):
    cfg = dict(small_config("rgb", small_synth, test_clips=2), num_classes=4, label_map=None)
    checkpoint = random_checkpoint(tmp_path / "four.pth", cfg, CLASSES[:4])
    video = _videos(small_synth, "RedBall")[0]
    assert cli_exit(["predict", checkpoint, video, "--protocol", "val", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    ranked = [line for line in out.splitlines() if line[:3].strip().rstrip(".").isdigit()]
    assert len(ranked) == 4, out
    assert "all 4 classes, best first (the model has only 4: --topk 5 lists every class" in out, out


# ------------------------------------------------------------- issue 17 item 14 / issue 20 item 1: many inputs
def test_a_folder_is_many_inputs_with_a_table_and_result_files(rgb, small_synth, tmp_path, capsys):
    checkpoint, cfg = rgb
    folder = small_synth / "videos" / "RedBall"
    assert cli_exit(["predict", checkpoint, folder, "--protocol", "val", "--device", "cpu", "--topk", "2",
                  "--out", tmp_path / "result.csv"]) == 0
    out = capsys.readouterr().out
    videos = _videos(small_synth, "RedBall")
    assert all(video.name in out for video in videos), out
    rows = list(csv.DictReader((tmp_path / "result.csv").open()))
    assert [row["video"] for row in rows] == [str(v) for v in videos]
    model, info = load_model(checkpoint)
    for row, video in zip(rows, videos):
        expected = predict_video(model, video, "val", "prob", cfg=info["cfg"])
        best = int(np.argmax(expected))
        assert row["top1"] == CLASSES[best] and abs(float(row["top1_score"]) - expected[best]) < 1e-4
    # a list file and several videos, JSON out: the same scores, in the order given
    listed = _videos(small_synth, "MoveUp", 2)
    (tmp_path / "list.txt").write_text("".join(f"{v} 7\n" for v in listed))
    assert cli_exit(["predict", checkpoint, tmp_path / "list.txt", videos[0], "--protocol", "val", "--device", "cpu",
                  "--out", tmp_path / "result.json", "--workers", "1"]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert [r["video"] for r in result["videos"]] == [str(v) for v in [*listed, videos[0]]]
    assert result["videos"][2]["top_k"][0]["name"] == rows[0]["top1"]


# ------------------------------------------------------------------------- review: list files
def test_a_csv_list_reads_its_fields_skips_its_header_and_keeps_spaces_in_paths(tmp_path):
    from tsnbook.batch import expand_inputs
    (tmp_path / "clip one.mp4").write_bytes(b"x")
    (tmp_path / "two.mp4").write_bytes(b"x")
    (tmp_path / "list.csv").write_text("path,label\nclip one.mp4,3\n\"two.mp4\",1\n")
    assert expand_inputs([tmp_path / "list.csv"]) == [tmp_path / "clip one.mp4", tmp_path / "two.mp4"]
    (tmp_path / "list.txt").write_text("two.mp4 1\n# a comment\n\nclip 4\n")  # MMAction2's lines: split at spaces
    assert expand_inputs([tmp_path / "list.txt"]) == [tmp_path / "two.mp4", tmp_path / "clip"]


def test_a_listed_video_that_fails_is_named_with_its_list_line(tmp_path):
    from tsnbook.batch import expand_inputs, iterate_views
    (tmp_path / "list.csv").write_text("path,label\nmissing.mp4,0\n")
    origins = {}
    paths = expand_inputs([tmp_path / "list.csv"], origins=origins)
    (index, views, error), = iterate_views(paths, [lambda reader: None], origins=origins)
    assert error.startswith(f"{tmp_path / 'list.csv'}:2: ") and "missing.mp4" in error, error


def test_an_empty_file_is_named_as_such_before_any_decoder_tries_it(tmp_path):
    from tsnbook.batch import check_video_path, iterate_views
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.mp4: empty file \(0 bytes\)"):
        check_video_path(tmp_path / "empty.mp4")
    (index, views, error), = iterate_views([tmp_path / "empty.mp4"], [lambda reader: None])
    assert "empty.mp4: empty file (0 bytes)" in error, error


def test_predict_and_prepare_take_the_same_video_files(tmp_path):
    from tsnbook.batch import expand_inputs
    from tsnbook.datasets.folder_walk import is_video_name
    names = ["a.MP4", "b.m4v", "c.mov", "d.Avi", "e.mkv", "f.webm", "g.flv", "h.ts", "i.txt", "j.MPG", "k.mpeg",
             "l.wmv", "m.3gp", "n.ogv", "o.jpg"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in expand_inputs([tmp_path])] == [name for name in names if is_video_name(name)]
    # every container PyAV / decord demuxes that cameras, phones and archives write; not lists, not images
    assert [name for name in names if not is_video_name(name)] == ["i.txt", "o.jpg"]


def test_a_folder_s_m4v_video_is_found_and_scored(rgb, small_synth, tmp_path, capsys):
    import shutil
    checkpoint, _ = rgb
    (tmp_path / "phone").mkdir()
    shutil.copy(_videos(small_synth, "RedBall")[0], tmp_path / "phone" / "clip.m4v")  # MPEG-4, as phones name it
    assert cli_exit(["predict", checkpoint, tmp_path / "phone", "--protocol", "val", "--device", "cpu"]) == 0
    assert f"video: {tmp_path / 'phone' / 'clip.m4v'}" in capsys.readouterr().out


def test_predict_and_features_read_their_folders_and_lists_once(rgb, small_synth, tmp_path, monkeypatch):
    # the commands expand their inputs once and score that list (a folder of 10 000 videos is walked once)
    import tsnbook.batch
    import tsnbook.features
    calls = []
    expand = tsnbook.batch.expand_inputs
    for module in (tsnbook.batch, tsnbook.features):
        monkeypatch.setattr(module, "expand_inputs", lambda *args: calls.append(args) or expand(*args))
    checkpoint, _ = rgb
    (tmp_path / "list.txt").write_text(f"{_videos(small_synth, 'MoveUp')[0]} 1\n")
    inputs = [small_synth / "videos" / "RedBall", tmp_path / "list.txt"]
    assert cli_exit(["predict", checkpoint, *inputs, "--device", "cpu", "--protocol", "val"]) == 0
    assert cli_exit(["features", checkpoint, *inputs, "--out", tmp_path / "f", "--device", "cpu"]) == 0
    assert len(calls) == 2 and len(list((tmp_path / "f").rglob("*.npy"))) == len(_videos(small_synth, "RedBall")) + 1


def test_a_listed_video_that_is_missing_names_the_list_line_even_when_it_is_the_only_one(rgb, tmp_path):
    checkpoint, _ = rgb
    (tmp_path / "notes.txt").write_text("src/blue/x 2\n")
    message = cli_exit(["predict", checkpoint, tmp_path / "notes.txt", "--device", "cpu"])
    assert message == f"error: {tmp_path / 'notes.txt'}:1: video {tmp_path / 'src/blue/x'} does not exist", message
    # features says the same, before it loads the model (a checkpoint that is not there is never reached)
    message = cli_exit(["features", tmp_path / "none.pth", tmp_path / "notes.txt", "--out", tmp_path / "f"])
    assert message == f"error: {tmp_path / 'notes.txt'}:1: video {tmp_path / 'src/blue/x'} does not exist", message


def test_the_csv_lists_the_skipped_videos_with_their_reason(rgb, small_synth, tmp_path):
    checkpoint, _ = rgb
    video = _videos(small_synth, "RedBall")[0]
    (tmp_path / "list.txt").write_text(f"{video} 0\nmissing.mp4 1\n")
    assert cli_exit(["predict", checkpoint, tmp_path / "list.txt", "--device", "cpu", "--topk", "2", "--out",
                     tmp_path / "r.csv"]) == 1
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert list(rows[0]) == ["video", "top1", "top1_score", "top1_class", "top2", "top2_score", "top2_class",
                             "skipped"]
    assert [row["video"] for row in rows] == [str(video), str(tmp_path / "missing.mp4")]
    assert rows[0]["top1"] in CLASSES and rows[0]["skipped"] == ""
    assert rows[1]["top1"] == rows[1]["top1_score"] == "" and rows[1]["skipped"].startswith(
        f"{tmp_path / 'list.txt'}:2: ") and "does not exist" in rows[1]["skipped"], rows[1]


def test_a_skipped_video_is_printed_once_with_its_reason(rgb, small_synth, tmp_path, capsys):
    checkpoint, _ = rgb
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "a.mp4").write_bytes(_videos(small_synth, "RedBall")[0].read_bytes())
    (folder / "empty.mp4").write_bytes(b"")
    assert cli_exit(["predict", checkpoint, folder, "--device", "cpu"]) == 1
    assert cli_exit(["features", checkpoint, folder, "--out", tmp_path / "f"]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("skipped")]
    assert len(lines) == 2 and lines[0] == lines[1], lines  # predict and features say it alike
    assert lines[0].count(str(folder / "empty.mp4")) == 1 and "empty" in lines[0].split(": ", 1)[1], lines


# ------------------------------------------------------------------ API review: many videos from Python
def test_predict_videos_scores_each_video_as_predict_video_and_lists_the_skipped(rgb, small_synth, tmp_path):
    import tsnbook
    checkpoint, _ = rgb
    model, info = tsnbook.load_model(checkpoint)
    listed = _videos(small_synth, "MoveUp", 2)
    (tmp_path / "list.txt").write_text(f"{listed[0]} 7\nmissing.mp4 1\n{listed[1]} 7\n")
    folder = small_synth / "videos" / "RedBall"
    results = list(tsnbook.predict_videos(model, [tmp_path / "list.txt", folder], cfg=info["cfg"], workers=1))
    videos = [listed[0], tmp_path / "missing.mp4", listed[1], *_videos(small_synth, "RedBall")]
    assert [r["video"] for r in results] == [str(v) for v in videos]  # in input order, the skipped one included
    assert results[1]["error"].startswith(f"{tmp_path / 'list.txt'}:2: ") and "scores" not in results[1]
    for result, video in zip(results, videos):
        if video.name != "missing.mp4":
            assert result["scores"].shape == (len(CLASSES),)
            assert np.allclose(result["scores"], predict_video(model, video, cfg=info["cfg"]), rtol=0, atol=1e-6)
    # a named protocol and raw scores, as predict_video takes them; bad inputs are refused before any video is read
    (raw,) = tsnbook.predict_videos(model, [listed[0]], protocol="val", average_clips="score")
    assert np.allclose(raw["scores"], predict_video(model, listed[0], "val", "score"), rtol=0, atol=1e-6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no video file"):
        tsnbook.predict_videos(model, [tmp_path / "empty"])


def test_cli_predict_gives_the_numbers_of_predict_videos(rgb, small_synth, tmp_path, capsys):
    import tsnbook
    checkpoint, _ = rgb
    model, info = tsnbook.load_model(checkpoint)
    folder = small_synth / "videos" / "RedBall"
    assert cli_exit(["predict", checkpoint, folder, "--device", "cpu", "--topk", "8", "--out",
                     tmp_path / "r.json"]) == 0
    written = json.loads((tmp_path / "r.json").read_text())["videos"]
    results = list(tsnbook.predict_videos(model, [folder], cfg=info["cfg"]))
    assert [row["video"] for row in written] == [r["video"] for r in results]
    for row, result in zip(written, results):
        assert all(abs(top["score"] - result["scores"][top["class"]]) < 1e-6 for top in row["top_k"])


# ------------------------------------------------------------------ review: arguments and output paths
def _argparse_error(argv, capsys):
    """``(exit status, stderr)`` of a command that argparse refuses, before anything runs."""
    code = cli_exit(argv)
    return code, capsys.readouterr().err


def test_topk_protocol_and_workers_are_checked_when_the_arguments_are_read(rgb, small_synth, capsys):
    from tsnbook.pipelines import parse_protocol
    checkpoint, _ = rgb
    video = _videos(small_synth, "RedBall")[0]
    for value in ("0", "-1"):  # -1 was a slice [:-1] (all classes but one), 0 an empty table
        code, err = _argparse_error(["predict", checkpoint, video, "--topk", value], capsys)
        assert code == 2 and f"argument --topk: must be an integer >= 1, got {value}" in err, err
    for name in ("0x1", "8x1@0", "dense-0x1"):  # no clip to score: once an error blaming the video, model loaded
        with pytest.raises(ValueError, match=f"unknown test protocol '{name}'"):
            parse_protocol(name)
        code, err = _argparse_error(["predict", checkpoint, video, "--protocol", name], capsys)
        assert code == 2 and f"argument --protocol: unknown test protocol '{name}'" in err, err
    assert parse_protocol("08x1")["clips"] == 8 and parse_protocol("10x3@224")["crop_size"] == 224
    code, err = _argparse_error(["features", checkpoint, video, "--out", "f", "--workers", "-1"], capsys)
    assert code == 2 and "argument --workers: must be an integer >= 0, got -1" in err, err  # not after the model loads


def test_predict_refuses_to_write_over_its_inputs(rgb, small_synth, tmp_path):
    import os
    checkpoint, _ = rgb
    video = tmp_path / "clip.mp4"
    video.write_bytes(_videos(small_synth, "RedBall")[0].read_bytes())
    (tmp_path / "list.csv").write_text("path,label\nclip.mp4,0\n")
    (tmp_path / "names.csv").write_text("\n".join(CLASSES) + "\n")
    os.symlink(video, tmp_path / "link.mp4")
    before = {path: path.read_bytes() for path in (video, tmp_path / "list.csv", tmp_path / "names.csv")}
    relative = os.path.relpath(video)  # another spelling of the same file is the same file
    for argv, message in [
            ([video, "--out-video", video], f"--out-video {video} is the input {video}"),
            ([video, "--out-video", relative], f"--out-video {relative} is the input {video}"),
            ([video, "--out-video", tmp_path / "link.mp4"], f"--out-video {tmp_path / 'link.mp4'} is the input"),
            ([tmp_path / "list.csv", "--out", tmp_path / "list.csv"], f"--out {tmp_path / 'list.csv'} is the input"),
            ([tmp_path / "list.csv", "--out-video", video], f"--out-video {video} is the video {video}"),
            ([video, "--label-map", tmp_path / "names.csv", "--out", tmp_path / "names.csv"],
             f"--out {tmp_path / 'names.csv'} is the --label-map"),
            ([video, "--timeline", "--window", "1", "--stride", "1", "--out-video", video], "is the video"),
            (["--source", video, "--window", "1", "--stride", "1", "--out-video", video], "is the video")]:
        text = str(cli_exit(["predict", checkpoint, *argv, "--device", "cpu"]))
        assert text.startswith("error: ") and message in text and "would replace that input" in text, text
    assert all(path.read_bytes() == content for path, content in before.items())


def test_predict_refuses_a_folder_or_a_file_where_its_output_goes_before_the_model_loads(small_synth, tmp_path):
    video = _videos(small_synth, "RedBall")[0]
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "dir.mp4").mkdir()
    (tmp_path / "file.csv").write_text("")
    absent = tmp_path / "absent.pth"  # never reached
    for option, path, message in [
            ("--out", tmp_path / "dir.csv", f"--out {tmp_path / 'dir.csv'} is a folder: give a file to write (e.g. "
                                            f"{tmp_path / 'dir.csv' / 'result.csv'})"),
            ("--out-video", tmp_path / "dir.mp4", f"--out-video {tmp_path / 'dir.mp4'} is a folder"),
            ("--out", tmp_path / "file.csv" / "sub.csv", f"--out {tmp_path / 'file.csv' / 'sub.csv'}: "
                                                         f"{tmp_path / 'file.csv'} is a file, not a folder"),
            ("--out", tmp_path / "file.csv" / "a" / "sub.csv", f"{tmp_path / 'file.csv'} is a file, not a folder"),
            ("--out", tmp_path / "no" / "sub.csv", f"the folder {tmp_path / 'no'} does not exist (create it first)")]:
        text = str(cli_exit(["predict", absent, video, option, path]))
        assert text.startswith("error: ") and message in text and "\n" not in text, text


# ------------------------------------------------------------------ cold review: flow of a 1-frame video
def test_a_flow_model_on_a_one_frame_video_says_flow_needs_two_frames(rgb, small_synth, tmp_path, capsys):
    from tsnbook.io import open_video, write_video
    checkpoint, _ = rgb
    flow = random_checkpoint(tmp_path / "flow.pth", small_config("flow", small_synth, test_clips=2), CLASSES)
    good = _videos(small_synth, "MoveUp")[0]
    with open_video(good) as reader:
        write_video(tmp_path / "one.mp4", reader.get([0]), fps=25)
    needs_two = "it has 1 frame, and optical flow needs at least 2"
    for argv in (["predict", flow, tmp_path / "one.mp4"], ["features", flow, tmp_path / "one.mp4", "--out",
                                                          tmp_path / "f"]):
        message = str(cli_exit(argv))
        assert message.startswith("error: ") and str(tmp_path / "one.mp4") in message and needs_two in message, message
    # two streams over two videos: the 1-frame one is skipped with the reason, the other scored
    assert cli_exit(["predict", "--rgb", checkpoint, "--flow", flow, tmp_path / "one.mp4", good]) == 1
    skipped = [line for line in capsys.readouterr().out.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and needs_two in skipped[0], skipped


# ------------------------------------------------------------------ cold review: list files and label maps
def test_a_list_or_label_map_that_is_not_utf8_is_named_with_its_line(rgb, small_synth, tmp_path):
    from tsnbook.data import read_label_map
    checkpoint, _ = rgb
    video = _videos(small_synth, "RedBall")[0]
    for name in ("list.txt", "list.csv"):
        (tmp_path / name).write_bytes(f"{video} 0\n".encode() + "café.mp4 1\n".encode("latin-1"))
        message = cli_exit(["predict", checkpoint, tmp_path / name])
        assert message == f"error: list file {tmp_path / name}:2: not UTF-8 text (byte 0xe9): save the file as " \
                          f"UTF-8", message
    (tmp_path / "labels.txt").write_bytes("\n".join(CLASSES[:7] + ["Mové"]).encode("latin-1"))
    message = cli_exit(["predict", checkpoint, video, "--label-map", tmp_path / "labels.txt"])
    assert message.startswith(f"error: label map {tmp_path / 'labels.txt'}:8: not UTF-8 text"), message
    (tmp_path / "bom.txt").write_text("\ufeff" + "\n".join(CLASSES), encoding="utf-8")  # a BOM sticks to no name
    assert read_label_map(tmp_path / "bom.txt") == CLASSES


def test_lists_with_a_bom_and_lists_in_json_name_their_videos(tmp_path):
    from tsnbook.batch import expand_inputs
    for name in ("a.mp4", "b c.mp4"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "bom.csv").write_text("\ufeffpath,label\na.mp4,0\n", encoding="utf-8")  # Excel's "CSV UTF-8"
    (tmp_path / "bom.txt").write_text("\ufeffa.mp4 0\n", encoding="utf-8")
    (tmp_path / "list.json").write_text(json.dumps(["a.mp4", "b c.mp4"]))
    assert expand_inputs([tmp_path / "bom.csv", tmp_path / "bom.txt", tmp_path / "list.json"]) == \
        [tmp_path / "a.mp4", tmp_path / "a.mp4", tmp_path / "a.mp4", tmp_path / "b c.mp4"]
    origins = {}
    expand_inputs([tmp_path / "list.json"], origins=origins)
    assert origins == {0: f"{tmp_path / 'list.json'}: item 1", 1: f"{tmp_path / 'list.json'}: item 2"}
    for text, message in [('["a.mp4",', r":1: not JSON \("), ('{"a": 1}', "a .json list is a list of video paths"),
                          ("[1, 2]", "a .json list is a list of video paths")]:
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(ValueError, match=message):
            expand_inputs([tmp_path / "bad.json"])


def test_predicts_own_csv_and_json_results_can_be_fed_back_as_lists(rgb, small_synth, tmp_path, monkeypatch):
    from tsnbook.batch import expand_inputs
    checkpoint, _ = rgb
    monkeypatch.chdir(tmp_path)
    Path("videos").mkdir()
    Path("out").mkdir()
    for index, video in enumerate(_videos(small_synth, "MoveUp", 2)):
        Path(f"videos/{index}.mp4").write_bytes(video.read_bytes())
    Path("videos/empty.mp4").write_bytes(b"")  # a skipped video is a row of the results too
    given = expand_inputs(["videos"])
    for name in ("r.csv", "r.json"):
        assert cli_exit(["predict", checkpoint, "videos", "--out", f"out/{name}", "--device", "cpu"]) == 1
        # the paths as predict wrote them (relative to where it ran), not to the result's folder; no "video" header
        assert sorted(expand_inputs([f"out/{name}"])) == sorted(given), name
        # predict had joined any --video-root already: not joined twice
        assert sorted(expand_inputs([f"out/{name}"], video_root="videos")) == sorted(given), name
    # a list of the user's own with a "video" header is the user's: relative to its folder, as any list
    Path("lists").mkdir()
    Path("lists/mine.csv").write_text("video,label\nclip.mp4,jump\n")
    Path("lists/mine.json").write_text('{"videos": ["clip.mp4"]}')  # no "models": not predict's
    assert expand_inputs(["lists/mine.csv"]) == [Path("lists/clip.mp4")]
    with pytest.raises(ValueError, match="a .json list is a list of video paths"):
        expand_inputs(["lists/mine.json"])


def test_a_folder_s_hidden_files_are_left_out_as_prepare_leaves_them(tmp_path):
    from tsnbook.batch import expand_inputs
    for name in ("a.mp4", "._a.mp4", ".cache/b.mp4", "sub/c.MP4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert expand_inputs([tmp_path]) == [tmp_path / "a.mp4", tmp_path / "sub" / "c.MP4"]


def test_predict_writes_results_named_in_upper_case(rgb, small_synth, tmp_path):
    checkpoint, _ = rgb
    folder = small_synth / "videos" / "RedBall"
    assert cli_exit(["predict", checkpoint, folder, "--device", "cpu", "--out", tmp_path / "R.CSV"]) == 0
    assert (tmp_path / "R.CSV").read_text().startswith("video,top1,")
    assert cli_exit(["predict", checkpoint, folder, "--device", "cpu", "--out", tmp_path / "R.JSON"]) == 0
    assert len(json.loads((tmp_path / "R.JSON").read_text())["videos"]) == len(_videos(small_synth, "RedBall"))


def test_a_json_list_is_read_whole_not_by_lines(tmp_path):
    from tsnbook.batch import expand_inputs
    (tmp_path / "l.json").write_text(json.dumps(["a\u2028b.mp4"], ensure_ascii=False), encoding="utf-8")
    assert expand_inputs([tmp_path / "l.json"]) == [tmp_path / "a\u2028b.mp4"]  # U+2028 splits str.splitlines


def test_a_config_of_another_architecture_is_named_not_offered_no_strict(rgb, small_synth, tmp_path):
    """``predict CKPT --config OTHER`` (a ResNet-18 checkpoint, a ResNet-34 config) listed 80 missing keys and
    offered --no-strict, which would have scored videos with random layers; ``test`` named both configs."""
    path, cfg = rgb
    with pytest.raises(ValueError) as error:
        load_model(path, cfg=dict(cfg, backbone="resnet34"))
    assert "resnet18" in str(error.value) and "resnet34" in str(error.value)
    assert "no-strict" not in str(error.value) and "strict=False" not in str(error.value)
    other = tmp_path / "other.py"
    other.write_text("base = 'tsn_r18_1x1x3_12e_synthactions_rgb'\nbackbone = 'resnet34'\n")
    video = _videos(small_synth, "RedBall", 1)[0]
    message = str(cli_exit(["predict", path, video, "--config", other]))
    assert "resnet18" in message and "resnet34" in message and "without --config" in message, message
    assert "--no-strict" not in message, message
    model, _ = load_model(path, cfg=dict(cfg, backbone="resnet34"), strict=False)  # on request, as documented
    assert model.num_classes == cfg["num_classes"]


def test_the_api_refuses_a_folder_or_an_image_as_the_cli_does(rgb, tmp_path):
    """``predict_video(model, "images/")`` said the existing folder "does not exist", and an image was scored as a
    one-frame video, where ``predict`` and ``extract_features`` refuse both by name."""
    path, cfg = rgb
    model, _ = load_model(path)
    (tmp_path / "frames").mkdir()
    image = tmp_path / "frames" / "img_00001.jpg"
    assert cv2.imwrite(str(image), np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="is a folder"):
        predict_video(model, tmp_path / "frames", cfg=cfg)
    with pytest.raises(ValueError, match="is an image, not a video"):
        predict_video(model, image, cfg=cfg)


def test_a_config_name_or_file_is_taken_where_a_config_dict_is(rgb, small_synth, tmp_path):
    """``load_model(ckpt, cfg="mine.py")`` failed with AttributeError: 'str' object has no attribute 'get', and
    ``predict_video(..., cfg="mine.py")`` with a TypeError, where every command takes a config's name or file."""
    path, cfg = rgb
    mine = tmp_path / "mine.py"
    mine.write_text(f"base = 'tsn_r18_1x1x3_12e_synthactions_rgb'\ntest_clips = {cfg['test_clips']}\n"
                    "test_pipeline = " + repr(cfg["test_pipeline"]) + "\n")
    model, info = load_model(path, cfg=str(mine))
    assert info["cfg"]["backbone"] == cfg["backbone"]
    video = _videos(small_synth, "RedBall", 1)[0]
    expected = predict_video(model, video, cfg=cfg)
    np.testing.assert_allclose(predict_video(model, video, cfg=mine), expected, atol=1e-6)
    np.testing.assert_allclose(next(iter(predict_videos(model, [video], cfg=str(mine))))["scores"], expected,
                               atol=1e-6)
    assert extract_features(model, video, cfg=mine).shape == extract_features(model, video, cfg=cfg).shape
    from tsnbook.configs import get_config
    from tsnbook.predict import flow_settings, video_views, view_extractor
    flow_name = "tsn_r18_1x1x3_12e_synthactions_flow"
    assert flow_settings(flow_name) == flow_settings(get_config(flow_name))
    np.testing.assert_array_equal(video_views(video, view_extractor(model, mine)),
                                  video_views(video, view_extractor(model, cfg)))
