"""``features`` and ``explain`` (issue 20 items 4 and 6): what the saved vectors are, and explanations that add up.

The pooled feature is the classifier's input, so ``feature @ W.T + b`` must give back ``predict``'s raw scores; an
explanation splits a raw score into the views' shares and each view's share over its positions, and both must
sum back to the score (they are exact for TSN's linear head, not approximations).
"""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import cli_exit, consensus_checkpoint, small_config
from tsnbook.checkpoints import save_checkpoint
from tsnbook.course.synth import CLASSES
from tsnbook.explain import explain_views
from tsnbook.factory import build_model, load_model
from tsnbook.models import TSN
from tsnbook.predict import predict_video, view_extractor, video_views



@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, small_synth):
    cfg = small_config("rgb", small_synth, test_clips=4)
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        model.fc.weight.normal_(0, 0.2)  # spread-out scores: shares that differ from view to view
    path = tmp_path_factory.mktemp("use") / "rgb.pth"
    save_checkpoint(path, dict(model=model.state_dict(), epoch=1, cfg=cfg, classes=CLASSES))
    return path


def _videos(small_synth, name):
    return sorted((small_synth / "videos" / name).glob("*.mp4"))


def test_features_are_the_classifiers_input_per_video_and_per_segment(checkpoint, small_synth, tmp_path, capsys):
    model, info = load_model(checkpoint)
    folder = small_synth / "videos"
    assert cli_exit(["features", checkpoint, folder / "RedBall", folder / "MoveUp", "--out", tmp_path / "f",
                  "--device", "cpu"]) == 0
    index = json.loads((tmp_path / "f" / "features.json").read_text())
    videos = _videos(small_synth, "RedBall") + _videos(small_synth, "MoveUp")
    assert sorted(index["videos"]) == sorted(map(str, videos)) and "the classifier's input" in index["what"]
    weight, bias = model.fc.weight.detach().double().numpy(), model.fc.bias.detach().double().numpy()
    for video in videos:
        entry = index["videos"][str(video)]
        assert entry["file"] == f"{video.parent.name}/{video.stem}.npy"  # named below the common folder
        feature = np.load(tmp_path / "f" / entry["file"])
        assert feature.shape == (512,) and feature.dtype == np.float32
        scores = predict_video(model, video, cfg=info["cfg"], average_clips="score")
        assert np.abs(feature @ weight.T + bias - scores).max() < 1e-4
    assert "wrote 6 feature files of shape (512,)" in capsys.readouterr().out
    # one per snippet: [clips, D], and their mean is the video's feature (ThreeCrop: 3 crops a clip)
    assert cli_exit(["features", checkpoint, videos[0], "--out", tmp_path / "s", "--per-segment", "--device",
                  "cpu"]) == 0
    per_segment = np.load(tmp_path / "s" / f"{videos[0].stem}.npy")
    assert per_segment.shape == (4, 512)
    assert np.abs(per_segment.mean(axis=0) - np.load(tmp_path / "f" / "RedBall" / f"{videos[0].stem}.npy")).max() < 1e-5


def test_explanations_sum_to_the_score_and_maps_to_each_views_share(checkpoint, small_synth):
    model, info = load_model(checkpoint)
    video = _videos(small_synth, "BlueBall")[0]
    extract = view_extractor(model, info["cfg"])
    views = video_views(video, extract)
    result = explain_views(model, views, crops=extract.crops)
    scores = predict_video(model, video, cfg=info["cfg"], average_clips="score")
    assert result["target"] == int(np.argmax(scores))
    assert abs(result["score"] - scores[result["target"]]) < 1e-4 * np.abs(scores).max()  # the eager score
    print(f"contributions - score: {result['contributions'].sum() - result['score']:.1e}")
    assert abs(result["contributions"].sum() - result["score"]) < 1e-9  # exact decomposition
    assert np.allclose(result["maps"].mean(axis=(1, 2)), result["view_scores"], atol=1e-9)
    assert np.allclose(result["per_segment"].sum(), result["score"]) and len(result["per_segment"]) == 4
    assert np.allclose(result["per_crop"].sum(), result["score"]) and len(result["per_crop"]) == 3
    assert np.ptp(result["contributions"]) > 0.01  # the views differ: the shares say something
    other = explain_views(model, views, target=(result["target"] + 1) % 8, crops=3)
    assert abs(other["contributions"].sum() - scores[(result["target"] + 1) % 8]) < 1e-4
    with pytest.raises(ValueError, match="not the plain average of its last map"):
        explain_views(TSN("mobilenet_v3_small", 8, 3).eval(), views[:2])  # a Linear follows its pooling


def test_cli_explain_writes_a_figure(checkpoint, small_synth, tmp_path, capsys):
    video = _videos(small_synth, "BlueBall")[0]
    assert cli_exit(["explain", checkpoint, video, "--out", tmp_path / "why.png", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "= the sum of the 12 views' contributions" in out and "per segment: 1:" in out
    assert cv2.imread(str(tmp_path / "why.png")).shape[1] > 400
    assert cli_exit(["explain", checkpoint, video, "--out", tmp_path / "why.png", "--target", "RedBall"]) == 0
    assert "class RedBall (class 0)" in capsys.readouterr().out
    assert "no class of that name" in str(cli_exit(["explain", checkpoint, video, "--out", tmp_path / "w.png",
                                                  "--target", "Juggling"]))


def test_a_weighted_tsns_feature_and_explanation_follow_its_weights_and_a_max_tsn_is_refused(small_synth, tmp_path):
    """Weighted: the feature is the weighted mean of the views' features, still the classifier's input, and an
    explanation's shares (weight x view score) still sum to the score. Max pools class scores: neither exists."""
    cfg = small_config("rgb", small_synth, test_clips=4)  # 4 clips x ThreeCrop
    checkpoint = consensus_checkpoint(tmp_path / "weighted.pth", cfg, "weighted", CLASSES)
    model, info = load_model(checkpoint)
    video = _videos(small_synth, "BlueBall")[0]
    assert cli_exit(["features", checkpoint, video, "--out", tmp_path / "f", "--device", "cpu"]) == 0
    feature = np.load(tmp_path / "f" / f"{video.stem}.npy")
    scores = predict_video(model, video, cfg=info["cfg"], average_clips="score")
    weight, bias = model.fc.weight.detach().double().numpy(), model.fc.bias.detach().double().numpy()
    assert np.abs(feature @ weight.T + bias - scores).max() < 1e-4
    assert "weighted mean over all views" in json.loads((tmp_path / "f" / "features.json").read_text())["what"]
    extract = view_extractor(model, info["cfg"])
    views = video_views(video, extract)
    result = explain_views(model, views, crops=extract.crops, num_clips=extract.num_segments)
    assert abs(result["score"] - scores[result["target"]]) < 1e-4 * np.abs(scores).max()
    assert abs(result["contributions"].sum() - result["score"]) < 1e-9
    assert np.allclose(result["maps"].mean(axis=(1, 2)), result["view_scores"], atol=1e-9)
    view_weight = result["contributions"] / result["view_scores"]
    assert view_weight[3] > 3 * view_weight[0]  # clip 4 of 4 sits in the last segment, whose weight is e^2 times the first's
    maximum = consensus_checkpoint(tmp_path / "max.pth", cfg, "max", CLASSES)
    assert "no feature after the consensus" in str(cli_exit(["features", maximum, video, "--out", tmp_path / "m",
                                                             "--device", "cpu"]))
    assert cli_exit(["features", maximum, video, "--out", tmp_path / "m", "--per-segment", "--device", "cpu"]) == 0
    assert np.load(tmp_path / "m" / f"{video.stem}.npy").shape == (4, 512)
    with pytest.raises(ValueError, match="explain needs the average or weighted consensus"):
        explain_views(load_model(maximum)[0], views, crops=3)


def test_explain_target_is_a_class_name_first_and_an_ambiguous_one_is_refused(checkpoint, small_synth, tmp_path,
                                                                              capsys):
    from tsnbook.cli.using import target_class
    digits = [str(i) for i in range(1, 9)]  # class folders named 1..8: "1" is class 0
    assert target_class("8", None, digits, 8) == 7  # a name; 8 is no index
    assert target_class("redball", None, list(CLASSES), 8) == 0  # any case
    assert target_class("3", None, list(CLASSES), 8) == 3  # no class of that name: an index
    with pytest.raises(ValueError, match=r"--target 1 is both the class named '1' \(index 0\) and class index 1 "
                                         r".*--target-index 0.*--target-index 1"):
        target_class("1", None, digits, 8)
    with pytest.raises(ValueError, match=r"--target RedBal: no class of that name \(did you mean RedBall\?\)"):
        target_class("RedBal", None, list(CLASSES), 8)
    assert target_class(None, 1, digits, 8) == 1
    with pytest.raises(ValueError, match=r"--target-index 8: the model has classes 0\.\.7"):
        target_class(None, 8, digits, 8)
    video = _videos(small_synth, "BlueBall")[0]
    assert cli_exit(["explain", checkpoint, video, "--out", tmp_path / "why.png", "--target-index", "2",
                     "--device", "cpu"]) == 0
    assert f"class {CLASSES[2]} (class 2)" in capsys.readouterr().out


def test_extract_features_is_what_the_cli_saves_for_the_video(checkpoint, small_synth, tmp_path):
    import tsnbook
    model, info = tsnbook.load_model(checkpoint)
    video = _videos(small_synth, "RedBall")[0]
    for name, option in (("f", []), ("s", ["--per-segment"])):
        assert cli_exit(["features", checkpoint, video, "--out", tmp_path / name, "--device", "cpu", *option]) == 0
        saved = np.load(tmp_path / name / f"{video.stem}.npy")
        feature = tsnbook.extract_features(model, video, cfg=info["cfg"], per_segment=bool(option))
        assert feature.dtype == np.float32 and feature.shape == saved.shape == ((4, 512) if option else (512,))
        assert np.abs(feature - saved).max() < 1e-6
    scores = predict_video(model, video, cfg=info["cfg"], average_clips="score")
    weight, bias = model.fc.weight.detach().double().numpy(), model.fc.bias.detach().double().numpy()
    assert np.abs(tsnbook.extract_features(model, video, cfg=info["cfg"]) @ weight.T + bias - scores).max() < 1e-4
    with pytest.raises(ValueError, match="is a folder"):
        tsnbook.extract_features(model, video.parent, cfg=info["cfg"])
    (tmp_path / "list.txt").write_text(f"{video} 0\n")  # one video file's feature: a list file is not expanded
    with pytest.raises(ValueError, match="list.txt"):
        tsnbook.extract_features(model, tmp_path / "list.txt", cfg=info["cfg"])


def test_videos_features_of_folders_and_lists_in_order_with_the_unreadable_named(checkpoint, small_synth, tmp_path):
    import tsnbook
    model, info = tsnbook.load_model(checkpoint)
    listed = _videos(small_synth, "MoveUp")[:2]
    (tmp_path / "list.txt").write_text(f"{listed[0]} 7\nmissing.mp4 1\n{listed[1]} 7\n")
    folder = small_synth / "videos" / "RedBall"
    results = list(tsnbook.videos_features(model, [tmp_path / "list.txt", folder], cfg=info["cfg"], workers=1))
    videos = [listed[0], tmp_path / "missing.mp4", listed[1], *_videos(small_synth, "RedBall")]
    assert [r["video"] for r in results] == [str(v) for v in videos]
    assert results[1]["error"].startswith(f"{tmp_path / 'list.txt'}:2: ") and "features" not in results[1]
    for result, video in zip(results, videos):
        if "error" not in result:
            one = tsnbook.extract_features(model, video, cfg=info["cfg"])
            assert result["features"].shape == (512,) and np.abs(result["features"] - one).max() < 1e-6


# ------------------------------------------------------------------ review: feature files and output folders
def test_videos_of_one_stem_in_one_folder_get_their_own_feature_files(checkpoint, small_synth, tmp_path):
    import shutil
    import tsnbook
    model, info = tsnbook.load_model(checkpoint)
    folder = tmp_path / "videos"
    folder.mkdir()
    sources = dict(zip(["same.mp4", "same.mkv", "other.mp4"], _videos(small_synth, "RedBall") + _videos(small_synth,
                                                                                                        "MoveUp")))
    for name, source in sources.items():
        shutil.copy(source, folder / name)
    assert cli_exit(["features", checkpoint, folder, "--out", tmp_path / "f", "--device", "cpu"]) == 0
    index = json.loads((tmp_path / "f" / "features.json").read_text())["videos"]
    assert {Path(video).name: entry["file"] for video, entry in index.items()} == {
        "same.mp4": "same.mp4.npy", "same.mkv": "same.mkv.npy", "other.mp4": "other.npy"}  # the extension kept
    for video, entry in index.items():  # only where two stems collide; each file holds its own video's feature
        expected = tsnbook.extract_features(model, sources[Path(video).name], cfg=info["cfg"])
        assert np.abs(np.load(tmp_path / "f" / entry["file"]) - expected).max() < 1e-6, video


def test_feature_files_name_each_video_once_and_refuse_a_name_two_would_share(tmp_path):
    from tsnbook.features import feature_files
    videos = [tmp_path / "a" / "x.mp4", tmp_path / "a" / "x.mkv", tmp_path / "b" / "x.mp4", tmp_path / "a" / "y.mp4"]
    files = feature_files([*videos, videos[0]], tmp_path / "f")  # a video named twice keeps its one file
    assert [files[str(v)].relative_to(tmp_path / "f").as_posix() for v in videos] == [
        "a/x.mp4.npy", "a/x.mkv.npy", "b/x.npy", "a/y.npy"]
    with pytest.raises(ValueError, match=r"videos .*x\.mp4 and .*x\.mp4\.avi would both write the feature file"):
        feature_files([tmp_path / "x.mp4", tmp_path / "x.mkv", tmp_path / "x.mp4.avi"], tmp_path / "f")


def test_features_and_explain_refuse_their_output_paths_before_the_model_loads(small_synth, tmp_path):
    video = _videos(small_synth, "RedBall")[0]
    (tmp_path / "file.txt").write_text("mine\n")
    (tmp_path / "taken.png").mkdir()
    absent = tmp_path / "absent.pth"  # a checkpoint never reached: each refusal comes before the model loads
    for argv, message in [
            (["features", absent, video, "--out", tmp_path / "file.txt"],
             f"--out {tmp_path / 'file.txt'} is a file: give a folder"),
            (["features", absent, video, "--out", tmp_path / "file.txt" / "f"],
             f"--out {tmp_path / 'file.txt' / 'f'}: {tmp_path / 'file.txt'} is a file, not a folder"),
            (["explain", absent, video, "--out", tmp_path / "taken.png"],
             f"--out {tmp_path / 'taken.png'} is a folder: give a file to write"),
            (["explain", absent, video, "--out", tmp_path / "file.txt" / "why.png"], "is a file, not a folder")]:
        text = str(cli_exit(argv))
        assert text.startswith("error: ") and message in text and "\n" not in text, (argv, text)
    assert (tmp_path / "file.txt").read_text() == "mine\n"
