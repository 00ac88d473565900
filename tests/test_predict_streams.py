"""``predict`` as a newcomer uses it (issue 14): class names from the checkpoint or a label map in either format,
a flow checkpoint on a raw video (its flow computed as the training data's), and the whole two-stream TSN on one
raw video with the zoo's 1:1 fusion - checked against the dataset path (extracted flow, `evaluate_checkpoint`,
`fuse_scores`) it must agree with.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import small_config
from tsnbook import cli
from tsnbook.course.synth import CLASSES
from tsnbook.data import build_dataset, label_names, read_label_map
from tsnbook.engine import evaluate_checkpoint, train
from tsnbook.factory import load_model
from tsnbook.io import FlowFrames, open_video
from tsnbook.metrics import fuse_scores
from tsnbook.models import TSN
from tsnbook.predict import predict_two_stream, predict_video, video_flow


def _exit(argv):
    with pytest.raises(SystemExit) as info:
        cli.main([str(a) for a in argv])
    return info.value.code


@pytest.fixture(scope="module")
def streams(tmp_path_factory, small_synth):
    """One epoch of each SynthActions stream on the small copy: {modality: (cfg, checkpoint)}."""
    runs = {}
    for modality in ("rgb", "flow"):
        folder = tmp_path_factory.mktemp(modality)
        cfg = small_config(modality, small_synth, epochs=1, test_clips=2)
        train(cfg, folder, device="cpu", progress=False, validate=False)
        runs[modality] = cfg, folder / "latest.pth"
    return runs


def _video(small_synth, name="MoveLeft"):
    return sorted((small_synth / "videos" / name).glob("*.mp4"))[0]


# ---------------------------------------------------------------------------------------------- label maps
def test_label_maps_are_read_in_both_formats(tmp_path):
    (tmp_path / "plain.txt").write_text("run\njump\n\nswim\n")
    assert read_label_map(tmp_path / "plain.txt", 3) == ["run", "jump", "swim"]
    (tmp_path / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Apply Lipstick\r\n3 Archery\n")  # UCF101's, CRLF
    assert read_label_map(tmp_path / "classInd.txt") == ["ApplyEyeMakeup", "Apply Lipstick", "Archery"]
    (tmp_path / "zero.txt").write_text("1 b\n0 a\n2 c\n")  # 0-based ids, out of order: the id decides
    assert read_label_map(tmp_path / "zero.txt") == ["a", "b", "c"]
    (tmp_path / "numbers.txt").write_text("3 point shot\nlayup\n")  # not every line has an id: names as written
    assert read_label_map(tmp_path / "numbers.txt") == ["3 point shot", "layup"]
    (tmp_path / "gaps.txt").write_text("1 a\n3 b\n")  # ids that are not 1..N: names as written
    assert read_label_map(tmp_path / "gaps.txt") == ["1 a", "3 b"]
    with pytest.raises(ValueError, match=r"classInd.txt has 3 names but the model has 4 classes"):
        read_label_map(tmp_path / "classInd.txt", 4)
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match="empty.txt is empty"):
        read_label_map(tmp_path / "empty.txt")
    with pytest.raises(FileNotFoundError, match="label map .*missing.txt does not exist"):
        read_label_map(tmp_path / "missing.txt")


def test_a_config_names_its_label_map_and_a_missing_one_is_a_note(small_synth, capsys):
    cfg = small_config("rgb", small_synth)
    assert cfg["label_map"] == "classInd.txt" and label_names(cfg) == CLASSES
    assert label_names(dict(cfg, label_map="nowhere.txt")) is None
    out = capsys.readouterr().out
    assert "note: label map" in out and "nowhere.txt" in out and "predict prints class indices" in out
    assert label_names(dict(cfg, label_map=None)) is None
    with pytest.raises(ValueError, match="has 8 names but the model has 5 classes"):
        label_names(dict(cfg, num_classes=5))


# ------------------------------------------------------------------------------------------------- names
def test_checkpoints_store_the_class_names_and_predict_prints_them(streams, small_synth, tmp_path, capsys):
    cfg, checkpoint = streams["rgb"]
    assert torch.load(checkpoint, weights_only=True)["classes"] == CLASSES
    model, info = load_model(checkpoint)
    assert info["classes"] == CLASSES
    assert _exit(["predict", checkpoint, _video(small_synth), "--protocol", "val", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    ranked = [line for line in lines if line[:3].strip().rstrip(".").isdigit()]
    assert len(ranked) == 5 and all(line.split()[1] in CLASSES for line in ranked), lines
    assert "(class indices" not in "\n".join(lines)
    expected = predict_video(model, _video(small_synth), "val", "prob")
    best = int(np.argmax(expected))
    assert ranked[0].split()[1] == CLASSES[best] and f"(class {best})" in ranked[0]
    # --label-map wins, in UCF101's classInd format too; a checkpoint without names prints indices and says why
    (tmp_path / "classInd.txt").write_text("".join(f"{i + 1} name{i}\n" for i in range(8)))
    assert _exit(["predict", checkpoint, _video(small_synth), "--protocol", "val", "--label-map",
                  tmp_path / "classInd.txt"]) == 0
    assert f" name{best} " in capsys.readouterr().out
    state = torch.load(checkpoint, weights_only=True)
    del state["classes"]
    torch.save(state, tmp_path / "nameless.pth")
    assert _exit(["predict", tmp_path / "nameless.pth", _video(small_synth), "--protocol", "val"]) == 0
    out = capsys.readouterr().out
    assert f" 1. {best} " in out and "pass --label-map FILE" in out


# -------------------------------------------------------------------------------------------------- flow
def test_a_flow_model_on_a_raw_video_sees_exactly_the_extracted_flow(streams, small_synth):
    cfg, checkpoint = streams["flow"]
    model, info = load_model(checkpoint)
    video = _video(small_synth)
    folder = small_synth / "rawframes" / video.parent.name / video.stem  # what prepare_synthactions extracted
    with open_video(video) as frames:
        count = frames.num_frames - 1
    extracted = predict_video(model, FlowFrames(folder, count), cfg=info["cfg"], average_clips="score")
    computed = predict_video(model, video, cfg=info["cfg"], average_clips="score")
    assert np.array_equal(computed, extracted)  # same DIS flow, bound 20, quantisation and JPEG bytes
    with video_flow(video) as reader:
        assert reader.num_frames == count and reader.get([0]).shape[-1] == 2
        for axis in "xy":  # the temporary files are byte-identical to the dataset's
            name = f"flow_{axis}_{count:05d}.jpg"
            assert (Path(reader.path) / name).read_bytes() == (folder / name).read_bytes()
    farneback = predict_video(model, video, cfg=info["cfg"], average_clips="score", flow=dict(algorithm="farneback"))
    assert not np.array_equal(farneback, extracted)  # the flow settings are used, not ignored



def test_predict_videos_gives_a_flow_model_each_videos_own_flow(streams, small_synth):
    from tsnbook.batch import predict_videos
    cfg, checkpoint = streams["flow"]
    model, info = load_model(checkpoint)
    video = _video(small_synth)
    (result,) = predict_videos(model, [video], cfg=info["cfg"], average_clips="score", workers=1)
    expected = predict_video(model, video, cfg=info["cfg"], average_clips="score")
    assert np.allclose(result["scores"], expected, rtol=0, atol=1e-6)  # the flow computed in the DataLoader worker
    # other flow settings give other scores: they are used, not ignored
    (farneback,) = predict_videos(model, [video], cfg=info["cfg"], average_clips="score",
                                  flow=dict(algorithm="farneback"))
    assert not np.allclose(farneback["scores"], result["scores"], rtol=0, atol=1e-6)

def test_rgb_frames_given_to_a_flow_model_say_what_to_do(small_synth):
    flow = TSN("resnet18", 8, 3, modality="flow", clip_len=5)
    with open_video(_video(small_synth)) as reader, pytest.raises(ValueError, match="pass the video's path"):
        predict_video(flow, reader, "val")
    with pytest.raises(ValueError, match="these are RGB frames, and a flow model reads stacks of optical flow"):
        flow(torch.zeros(1, 3, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(FileNotFoundError, match="nothing.mp4 does not exist"):
        predict_video(flow, small_synth / "nothing.mp4", "val")


# --------------------------------------------------------------------------------------------- two streams
def test_two_stream_predict_is_the_zoo_test_and_fusion_of_one_video(streams, small_synth):
    (rgb_cfg, rgb_ckpt), (flow_cfg, flow_ckpt) = streams["rgb"], streams["flow"]
    rgb, rgb_info = load_model(rgb_ckpt)
    flow, flow_info = load_model(flow_ckpt)
    result = predict_two_stream(rgb, flow, _video(small_synth), rgb_info["cfg"], flow_info["cfg"])
    # the zoo's way: each stream's test run (raw scores: average_clips None), then fuse_scores 1:1
    rgb_test = evaluate_checkpoint(rgb_cfg, rgb_ckpt, device="cpu", progress=False)[0]
    flow_test = evaluate_checkpoint(flow_cfg, flow_ckpt, device="cpu", progress=False)[0]
    names = [r.path for r in build_dataset(rgb_cfg, "test").records]
    row = names.index(str(_video(small_synth)))
    assert np.allclose(result["rgb"], rgb_test[row], atol=1e-5)
    assert np.allclose(result["flow"], flow_test[row], atol=1e-5)
    assert np.allclose(result["fused"], fuse_scores([rgb_test, flow_test], [1, 1])[row], atol=1e-5)
    weighted = predict_two_stream(rgb, flow, _video(small_synth), rgb_info["cfg"], flow_info["cfg"],
                                  coefficients=(1, 2))
    assert np.allclose(weighted["fused"], result["rgb"] + 2 * result["flow"], atol=1e-5)
    with pytest.raises(ValueError, match="takes an RGB model and a flow model, got flow and rgb"):
        predict_two_stream(flow, rgb, _video(small_synth))


def test_cli_two_stream_prints_fused_names_and_refuses_mixed_up_arguments(streams, small_synth, capsys, tmp_path):
    rgb, flow = streams["rgb"][1], streams["flow"][1]
    video = _video(small_synth)
    assert _exit(["predict", "--rgb", rgb, "--flow", flow, video, "--topk", "3", "--device", "cpu", "--out",
                  tmp_path / "two.json"]) == 0
    out = capsys.readouterr().out
    assert "raw scores (average_clips=None) fused 1:1" in out and "on its optical flow, computed here: DIS" in out
    ranked = [line for line in out.splitlines() if line[:3].strip().rstrip(".").isdigit()]
    assert len(ranked) == 3 and all(line.split()[1] in CLASSES and "(rgb " in line for line in ranked)
    (written,) = json.loads((tmp_path / "two.json").read_text())["videos"]  # the numbers of predict_two_stream
    expected = predict_two_stream(load_model(rgb)[0], load_model(flow)[0], video, load_model(rgb)[1]["cfg"],
                                  load_model(flow)[1]["cfg"])["fused"]
    assert all(abs(top["score"] - expected[top["class"]]) < 1e-4 for top in written["top_k"])
    for argv, message in [
        (["--rgb", rgb, video], "takes --rgb RGB.pth --flow FLOW.pth VIDEO"),
        (["--rgb", rgb, "--flow", flow, rgb, video], "takes --rgb RGB.pth --flow FLOW.pth VIDEO"),
        (["--rgb", flow, "--flow", rgb, video], "takes an RGB model and a flow model, got flow and rgb"),
        (["--rgb", rgb, "--flow", flow, video, "--average-clips", "prob"], "apply to one model only"),
        ([video], "give a checkpoint and a video"),
    ]:
        assert argv and message in str(_exit(["predict", *argv])), argv
