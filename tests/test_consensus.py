"""TSN's segmental consensus (`tsnbook.consensus`): average (MMAction2's, unchanged), max and weighted, in training
and over a test's views, from a config through a run to a checkpoint."""
import json
import math

import numpy as np
import pytest
import torch

from conftest import cli_exit, consensus_checkpoint, small_config
from tsnbook.consensus import SegmentalConsensus
from tsnbook.engine import evaluate_checkpoint, train
from tsnbook.factory import build_model, load_model
from tsnbook.mmaction2 import export_mmaction2_checkpoint
from tsnbook.models import TSN
from tsnbook.predict import config_views, predict_video


def _model(consensus, segments=3, classes=5):
    torch.manual_seed(0)
    return TSN("resnet18", num_classes=classes, num_segments=segments, dropout=0.0, consensus=consensus).eval()


def _clips(views, seed=1):
    return torch.randint(0, 256, (views, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_each_consensus_on_hand_made_scores():
    x = torch.tensor([[[1.0, 5.0], [3.0, -1.0], [8.0, 2.0]]])  # [B=1, K=3, 2]
    assert torch.equal(SegmentalConsensus("avg")(x), torch.tensor([[4.0, 2.0]]))
    assert torch.equal(SegmentalConsensus("max")(x), torch.tensor([[8.0, 5.0]]))
    weighted = SegmentalConsensus("weighted", 3)
    assert torch.allclose(weighted(x), SegmentalConsensus("avg")(x))  # equal weights before training
    with torch.no_grad():
        weighted.weight.copy_(torch.tensor([0.0, 0.0, math.log(2.0)]))  # softmax: 1/4, 1/4, 1/2
    assert torch.allclose(weighted.segment_weights(), torch.tensor([0.25, 0.25, 0.5]))
    assert torch.allclose(weighted(x), torch.tensor([[0.25 + 0.75 + 4.0, 1.25 - 0.25 + 1.0]]))
    with pytest.raises(ValueError, match="consensus must be one of avg, max, weighted"):
        SegmentalConsensus("median")
    with pytest.raises(ValueError, match="one weight per segment \\(3\\) but got 4 views"):
        weighted(torch.zeros(1, 4, 2))


def test_average_consensus_adds_no_weights_so_old_checkpoints_load():
    assert set(_model("avg").state_dict()) == set(TSN("resnet18", num_classes=5).state_dict())
    assert not any(key.startswith("consensus") for key in _model("max").state_dict())
    assert [k for k in _model("weighted").state_dict() if k.startswith("consensus")] == ["consensus.weight"]


def test_max_takes_each_class_best_snippet_score_and_weighted_weighs_the_features():
    x = _clips(6).view(2, 3, 3, 32, 32)
    with torch.no_grad():
        model = _model("max")
        per_snippet = model.fc(model.snippet_features(x))  # [2, 3, 5]
        assert torch.allclose(model(x), per_snippet.amax(dim=1), atol=1e-6)
        assert not torch.allclose(model(x), per_snippet.mean(dim=1), atol=1e-3)
        with pytest.raises(ValueError, match="pools class scores"):
            model.features(x)
        model = _model("weighted")
        model.consensus.weight.copy_(torch.tensor([-20.0, 0.0, -20.0]))  # all the weight on segment 2
        features = model.snippet_features(x)
        assert torch.allclose(model(x), model.fc(features[:, 1]), atol=1e-5)


def test_weighted_segment_weights_learn_from_the_loss():
    model = _model("weighted").train()
    x, labels = _clips(6).view(2, 3, 3, 32, 32), torch.tensor([1, 3])
    torch.nn.functional.cross_entropy(model(x), labels).backward()
    assert model.consensus.weight.grad is not None and model.consensus.weight.grad.abs().sum() > 0


def test_test_views_run_the_consensus_over_each_crops_clips_and_average_the_crops():
    views = _clips(12)  # 2 crops x 6 clips, all clips of crop 1 first (MMAction2's order)
    with torch.no_grad():
        model = _model("max")
        logits = model.fc(model.snippet_features(views[None])[0]).double()  # [12, 5]
        expected = logits.view(2, 6, 5).amax(dim=1).mean(dim=0)
        assert np.allclose(model.score_views(views, "score", views_per_chunk=5, num_clips=6), expected, atol=1e-5)
        # one block of 12 clips is another test: the max of all 12
        assert np.allclose(model.score_views(views, "score"), logits.amax(dim=0), atol=1e-5)

        model = _model("weighted")
        model.consensus.weight.copy_(torch.tensor([0.0, math.log(2.0), math.log(5.0)]))  # 1/8, 2/8, 5/8
        features = model.snippet_features(views[None])[0].double()
        # 6 clips over 3 segments: clip centres (j + 1/2)/6 fall in segments 0, 0, 1, 1, 2, 2
        per_clip = torch.tensor([1, 1, 2, 2, 5, 5], dtype=torch.float64) / 16
        expected = model.fc(((per_clip.repeat(2) / 2)[:, None] * features).sum(0).float())
        assert np.allclose(model.score_views(views, "score", num_clips=6), expected, atol=1e-5)
        # a test with the training layout (3 clips, 1 crop) scores exactly what training computes
        x = views[:3][None]
        assert np.allclose(model.score_views(x[0], "prob", num_clips=3), torch.softmax(model(x), -1)[0], atol=1e-6)
    avg = _model("avg")
    assert np.allclose(avg.score_views(views, "score", num_clips=6), avg.score_views(views, "score"))
    with pytest.raises(ValueError, match="12 test views do not split into blocks of num_clips=5"):
        _model("max").score_views(views, num_clips=5)


def test_view_weights_share_a_segments_weight_and_cover_every_view():
    consensus = SegmentalConsensus("weighted", 3)
    with torch.no_grad():
        consensus.weight.copy_(torch.tensor([0.0, math.log(2.0), math.log(5.0)]))
    weights = consensus.view_weights(25 * 3, num_clips=25)  # a 25x3 test
    assert weights.shape == (75,) and math.isclose(float(weights.sum()), 1.0)
    per_segment = torch.zeros(3, dtype=torch.float64).index_add_(
        0, ((torch.arange(25) + 0.5) * 3 / 25).long(), weights[:25] * 3)
    assert torch.allclose(per_segment, torch.tensor([1, 2, 5], dtype=torch.float64) / 8)
    one = consensus.view_weights(1)  # fewer clips than segments: the clip takes all the weight
    assert torch.equal(one, torch.ones(1, dtype=torch.float64))
    assert torch.allclose(SegmentalConsensus("avg").view_weights(4, 2), torch.full((4,), 0.25, dtype=torch.float64))


def test_a_config_picks_the_consensus_and_avg_is_the_default(small_synth):
    cfg = small_config("rgb", small_synth)
    assert build_model(cfg).consensus.kind == "avg"
    assert build_model(dict(cfg, consensus="weighted")).consensus.kind == "weighted"
    with pytest.raises(ValueError, match="consensus must be one of"):
        build_model(dict(cfg, consensus="mean"))


@pytest.mark.parametrize("consensus", ["max", "weighted"])
def test_a_run_trains_tests_and_reloads_with_each_consensus(tmp_path, small_synth, consensus):
    cfg = small_config("rgb", small_synth, epochs=1, consensus=consensus, test_clips=4)
    train(cfg, tmp_path, device="cpu", progress=False, validate=False)
    model, info = load_model(tmp_path / "latest.pth")
    assert model.consensus.kind == consensus and info["cfg"]["consensus"] == consensus
    if consensus == "weighted":
        state = torch.load(tmp_path / "latest.pth", weights_only=True)["model"]
        assert torch.equal(model.consensus.weight, state["consensus.weight"])
        assert not torch.equal(state["consensus.weight"], torch.zeros(3))  # it trained
    scores, labels, report, skipped = evaluate_checkpoint(cfg, tmp_path / "latest.pth", device="cpu", progress=False)
    assert scores.shape == (8, 8) and np.isfinite(scores).all() and not skipped
    first = (small_synth / cfg["ann_file_test"]).read_text().split()[0]  # the dataset path and predict_video
    assert np.allclose(predict_video(model, small_synth / "videos" / first, cfg=cfg, average_clips=None), scores[0],
                       atol=1e-4)
    with pytest.raises(ValueError, match="average consensus only"):
        export_mmaction2_checkpoint(model, tmp_path / "mm.pth")


def test_average_consensus_keeps_its_exact_arithmetic():
    """avg must give the very bits it gave before the consensus became an option: the snippet features' mean
    before dropout and the classifier in training, the float64 running sum over chunks at test."""
    model, x = _model("avg"), _clips(6).view(2, 3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), model.fc(model.dropout(model.snippet_features(x).mean(dim=1))))
        views = _clips(10)
        total = 0
        for chunk in views.split(4):
            total = total + model.snippet_features(chunk[None]).mean(dim=1).double() * len(chunk)
        expected = model.fc((total / len(views)).float())[0].numpy()
    assert np.array_equal(model.score_views(views, "score", views_per_chunk=4), expected)


def test_cli_predict_weighs_each_crops_clips_as_predict_video_does(tmp_path, small_synth):
    cfg = small_config("rgb", small_synth, test_clips=3)  # 3 clips x ThreeCrop
    checkpoint = consensus_checkpoint(tmp_path / "weighted.pth", cfg, "weighted")
    model, info = load_model(checkpoint)
    video = sorted((small_synth / "videos" / "BlueBall").glob("*.mp4"))[0]
    assert cli_exit(["predict", checkpoint, video, "--device", "cpu", "--topk", "8", "--average-clips", "score",
                     "--out", tmp_path / "result.json"]) == 0
    listed = sorted(json.loads((tmp_path / "result.json").read_text())["videos"][0]["top_k"], key=lambda e: e["class"])
    expected = predict_video(model, video, cfg=info["cfg"], average_clips="score")
    assert np.abs(np.array([entry["score"] for entry in listed]) - expected).max() < 1e-5
    crops_as_clips = model.score_views(config_views(video, info["cfg"]), "score")  # one block: the crops weighed
    assert np.abs(crops_as_clips - expected).max() > 1e-3
