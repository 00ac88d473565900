import re

import pytest
import torch
import torchvision

from tsnbook.models import TSN, adapt_first_conv, average_clips


def test_rgb_tsn_folds_snippets_and_averages_features():
    torch.manual_seed(0)
    model = TSN("resnet18", num_classes=5, num_segments=3, dropout=0.0).eval()
    x = torch.randint(0, 256, (2, 3, 3, 32, 32), dtype=torch.uint8)
    logits = model(x)
    assert logits.shape == (2, 5)
    with torch.no_grad():
        per_view = torch.stack([model.features(x[:, v:v + 1]) for v in range(3)], dim=1)
        assert torch.allclose(model.features(x), per_view.mean(1), atol=1e-5)
        # consensus before the (linear) classifier == average of per-view logits
        assert torch.allclose(logits, model.fc(per_view).mean(1), atol=1e-5)


def test_uint8_and_float_inputs_are_normalised_the_same():
    model = TSN("resnet18", num_classes=3, num_segments=1).eval()
    x = torch.randint(0, 256, (1, 1, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.allclose(model(x), model(x.float()), atol=1e-6)


def test_flow_first_conv_is_the_channel_average_of_rgb_filters():
    backbone = torchvision.models.resnet18()
    rgb_weight = backbone.conv1.weight.detach().clone()
    adapt_first_conv(backbone, 10, "average")
    assert backbone.conv1.weight.shape == (64, 10, 7, 7)
    for c in range(10):
        assert torch.allclose(backbone.conv1.weight[:, c], rgb_weight.mean(1))
    model = TSN("resnet18", num_classes=4, num_segments=3, modality="flow", clip_len=5).eval()
    assert model(torch.full((1, 3, 10, 32, 32), 128, dtype=torch.uint8)).shape == (1, 4)
    assert model.mean.shape == (1, 10, 1, 1) and float(model.mean[0, 0]) == 128.0


def test_wrong_channel_count_is_reported_with_shapes():
    model = TSN("resnet18", num_classes=4, modality="flow", clip_len=5)
    with pytest.raises(ValueError, match=r"expects input \[B, V, 10, H, W\], got \(1, 3, 3, 32, 32\)"):
        model(torch.zeros(1, 3, 3, 32, 32))


def test_partial_bn_freezes_every_bn_but_the_first():
    model = TSN("resnet18", num_classes=4, partial_bn=True).train()
    bns = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns[0].training and bns[0].weight.requires_grad
    assert not any(bn.training for bn in bns[1:])
    assert not any(bn.weight.requires_grad for bn in bns[1:])


def test_norm_eval_keeps_running_statistics():
    model = TSN("resnet18", num_classes=4, norm_eval=True).train()
    before = model.backbone.bn1.running_mean.clone()
    model(torch.randint(0, 256, (2, 2, 3, 32, 32), dtype=torch.uint8))
    assert torch.equal(before, model.backbone.bn1.running_mean)
    assert model.backbone.bn1.weight.requires_grad  # affine parameters still train


def test_other_torchvision_backbones_are_adapted_generically():
    model = TSN("mobilenet_v3_small", num_classes=7, num_segments=2, modality="flow").eval()
    assert model.feature_dim == 1024  # the input of mobilenet's last Linear
    assert model(torch.zeros(1, 2, 10, 64, 64, dtype=torch.uint8)).shape == (1, 7)


def test_unknown_backbone_and_offline_pretrained_have_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="unknown backbone 'resnet5'"):
        TSN("resnet5")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: "/nonexistent/hub")
    with pytest.raises(RuntimeError, match="pretrained='path/to/weights.pth'"):
        TSN("resnet18", pretrained="torchvision")


def test_average_clips_modes():
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.equal(average_clips(logits, None), logits)
    assert torch.allclose(average_clips(logits, "prob").sum(), torch.tensor(1.0))
    with pytest.raises(ValueError):
        average_clips(logits, "mean")


def test_timm_backbone_gives_its_pooled_pre_logits_features():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = TSN("timm/test_vit", num_classes=6, num_segments=2, dropout=0.0).eval()
    reference = timm.create_model("test_vit", num_classes=0)
    reference.load_state_dict(model.backbone.state_dict())
    x = torch.randint(0, 256, (2, 2, 3, 160, 160), dtype=torch.uint8)
    with torch.no_grad():
        assert model(x).shape == (2, 6) and model.feature_dim == reference.num_features
        images = ((x.flatten(0, 1).float() - model.mean) / model.std)
        pooled = reference.eval().forward_head(reference.forward_features(images), pre_logits=True)
        assert torch.allclose(model.features(x), pooled.view(2, 2, -1).mean(1), atol=1e-5)
    with pytest.raises(ValueError, match="unknown timm model 'no_such_net'"):
        TSN("timm/no_such_net")


def test_frozen_stages_freeze_the_stem_and_first_layers_on_every_train():
    model = TSN("resnet18", num_classes=4, frozen_stages=2)
    for _ in range(2):
        model.train()
        frozen = [model.backbone.conv1, model.backbone.bn1, model.backbone.layer1, model.backbone.layer2]
        assert not any(p.requires_grad for m in frozen for p in m.parameters())
        assert not any(m.training for f in frozen for m in f.modules())
        assert all(p.requires_grad for p in model.backbone.layer3.parameters())
        assert model.backbone.layer3.training and model.fc.weight.requires_grad
        model.eval()
    before = model.backbone.layer1[0].bn1.running_mean.clone()
    model.train()(torch.randint(0, 256, (2, 2, 3, 32, 32), dtype=torch.uint8))
    assert torch.equal(before, model.backbone.layer1[0].bn1.running_mean)
    with pytest.raises(ValueError, match="frozen_stages=1 needs a ResNet-style backbone.*no conv1, bn1, layer1"):
        TSN("mobilenet_v3_small", frozen_stages=1)


def test_densenet_features_skip_the_final_relu_like_mmaction2():
    torch.manual_seed(0)
    quirk = TSN("densenet121", num_classes=3, num_segments=1).eval()
    fixed = TSN("densenet121", num_classes=3, num_segments=1, densenet_relu=True).eval()
    fixed.load_state_dict(quirk.state_dict())
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        raw = quirk.backbone.features(images)
        assert raw.min() < 0  # the last BN's output has negatives that torchvision's ReLU would remove
        assert torch.allclose(quirk.backbone_features(images), raw.mean((2, 3)), atol=1e-6)
        assert torch.allclose(fixed.backbone_features(images), torch.relu(raw).mean((2, 3)), atol=1e-6)


def test_build_model_reads_the_model_keys_of_a_config():
    from tsnbook.engine import build_model as engine_build_model
    from tsnbook.factory import build_model
    assert engine_build_model is build_model  # the engine builds with the factory's
    cfg = dict(backbone="resnet18", num_classes=4, num_segments=5, modality="flow", clip_len=5, dropout=0.2,
               frozen_stages=0, multi_label=True, partial_bn=True)
    model = build_model(cfg)
    assert (model.in_channels, model.num_segments, model.dropout.p, model.multi_label) == (10, 5, 0.2, True)
    assert not model.backbone.conv1.weight.requires_grad and model.backbone.layer1[0].conv1.weight.requires_grad
    logits = torch.tensor([[0.0, 2.0]])
    # MMAction2's average_clip: "prob" is a softmax even for a multi-label head; the sigmoid on request
    assert torch.allclose(model.class_scores(logits, "prob"), torch.softmax(logits, 1))
    sigmoid = build_model(dict(cfg, multi_label_prob="sigmoid"))
    assert torch.allclose(sigmoid.class_scores(logits, "prob"), torch.sigmoid(logits))
    assert torch.equal(sigmoid.class_scores(logits, "score"), logits)
    single = build_model(dict(cfg, multi_label=False, multi_label_prob="sigmoid"))  # single-label: ignored
    assert torch.allclose(single.class_scores(logits, "prob"), torch.softmax(logits, 1))
    with pytest.raises(ValueError, match="multi_label_prob must be 'softmax' .MMAction2. or 'sigmoid'"):
        build_model(dict(cfg, multi_label_prob="softmax2"))


def test_pretrained_names_the_exact_weights_and_the_zoo_rows_use_mmaction2s(monkeypatch):
    from tsnbook.configs import all_configs
    from tsnbook.models import build_backbone, pretrained_source
    # MMAction2's torchvision://resnet50 is torchvision's original ImageNet weights, not today's DEFAULT (V2)
    assert pretrained_source("torchvision") == ("torchvision", "IMAGENET1K_V1")
    assert pretrained_source("torchvision:IMAGENET1K_V2") == ("torchvision", "IMAGENET1K_V2")
    assert pretrained_source("timm:gluon_in1k") == ("timm", "gluon_in1k") and pretrained_source(None) == (None, None)
    rows = {n: c for n, c in all_configs().items() if not n.endswith("_tiny") and "synthactions" not in n}
    assert {c["pretrained"] for c in rows.values() if not c["backbone"].startswith("timm/")} == {
        "torchvision:IMAGENET1K_V1"}
    assert {c["pretrained"] for c in rows.values() if c["backbone"].startswith("timm/")} == {
        "timm:gluon_in1k", "timm:ms_in22k_ft_in1k"}  # pinned: timm's default tags change between versions
    asked = []
    monkeypatch.setattr(torchvision.models, "get_model",
                        lambda name, weights=None: asked.append(weights) or torchvision.models.resnet50())
    build_backbone("resnet50", "torchvision")
    build_backbone("resnet50", "torchvision:IMAGENET1K_V2")
    assert asked == ["IMAGENET1K_V1", "IMAGENET1K_V2"]
    with pytest.raises(ValueError, match="no weights 'IMAGENET1K_V3' for resnet50; it has IMAGENET1K_V1, IMAGENET1K_V2"):
        build_backbone("resnet50", "torchvision:IMAGENET1K_V3")


def test_timm_weights_tags_are_checked_before_any_download():
    pytest.importorskip("timm")
    from tsnbook.models import build_backbone
    with pytest.raises(ValueError, match=r"no pretrained weights resnext101_32x4d.in9k.*gluon_in1k"):
        build_backbone("timm/resnext101_32x4d", "timm:in9k")
    with pytest.raises(ValueError, match="is for torchvision backbones"):
        build_backbone("timm/resnext101_32x4d", "torchvision:IMAGENET1K_V1")


def test_a_pretrained_file_must_fit_the_backbone(tmp_path):
    from tsnbook.models import build_backbone
    state = torchvision.models.resnet18().state_dict()
    torch.save(state, tmp_path / "ok.pth")
    model, dim = build_backbone("resnet18", str(tmp_path / "ok.pth"))
    assert dim == 512 and torch.equal(model.conv1.weight, state["conv1.weight"])
    del state["layer4.1.bn2.running_var"]
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(ValueError, match=r"1 tensor\(s\) missing.*layer4.1.bn2.running_var"):
        build_backbone("resnet18", str(tmp_path / "short.pth"))


def test_a_pretrained_file_loads_into_a_timm_backbone_with_or_without_its_classifier(tmp_path):
    timm = pytest.importorskip("timm")
    from tsnbook.models import build_backbone
    torch.manual_seed(0)
    full = timm.create_model("test_resnet", num_classes=10)  # timm's own file: the classifier "fc" included
    torch.save(full.state_dict(), tmp_path / "with_fc.pth")
    torch.save({k: v for k, v in full.state_dict().items() if not k.startswith("fc.")}, tmp_path / "bare.pth")
    for name in ("with_fc.pth", "bare.pth"):
        model, dim = build_backbone("timm/test_resnet", str(tmp_path / name))
        assert torch.equal(model.layer4[0].conv2.weight, full.layer4[0].conv2.weight)
    flow = TSN("timm/test_resnet", num_classes=3, modality="flow", clip_len=5, pretrained=str(tmp_path / "bare.pth"))
    assert torch.allclose(flow.backbone.conv1[0].weight[:, 4], full.conv1[0].weight.mean(dim=1))


@pytest.mark.parametrize("options", [dict(partial_bn=True), dict(norm_eval=True), dict(frozen_stages=1),
                                     dict(frozen_stages=2, partial_bn=True), dict(frozen_stages=0, norm_eval=True)])
def test_frozen_and_eval_bn_equal_mmaction2s_resnet(options):
    import pathlib
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from oracle import mmaction_1x
    from tsnbook.mmaction2 import mmaction2_to_tsnbook
    mmaction_1x()
    from mmaction.registry import MODELS
    theirs = MODELS.build(dict(type="ResNet", depth=18, pretrained=None, **options))
    theirs.train()  # MMAction2's ResNet.train returns None
    ours = TSN("resnet18", num_classes=3, **options).train()

    def renamed(module, prefix=""):  # requires_grad of each parameter, training of each BN, under tsnbook's names
        state = {f"backbone.{prefix}{name}": p.requires_grad for name, p in module.named_parameters()}
        state.update({f"backbone.{prefix}{name}.training": m.training for name, m in module.named_modules()
                      if isinstance(m, torch.nn.BatchNorm2d)})
        return state
    theirs_state = mmaction2_to_tsnbook(renamed(theirs))[0]  # conv1.bn.training -> bn1.training, ...
    ours_state = renamed(ours.backbone)
    assert ours_state == {k: theirs_state[k] for k in ours_state}


@pytest.mark.parametrize("arguments, message", [
    (dict(num_classes=0), "num_classes must be an int >= 1, got 0"),
    (dict(num_segments=0), "num_segments must be an int >= 1, got 0"),
    (dict(modality="flow", clip_len=0), "clip_len must be an int >= 1, got 0"),
    (dict(num_classes=3.0), "num_classes must be an int >= 1, got 3.0"),
])
def test_tsn_refuses_counts_below_one_when_built(arguments, message):
    # TSN("resnet18", 0, 3) built a classifier of no class, clip_len=0 a conv of no input channel
    with pytest.raises(ValueError, match=re.escape(message)):
        TSN(**dict(dict(backbone="resnet18", num_classes=3, num_segments=3), **arguments))


def test_channels_last_frames_are_named_as_such():
    model = TSN("resnet18", 3, 3)
    with pytest.raises(ValueError, match=r"got \(1, 3, 40, 40, 3\): channels last \(\[H, W, C\] frames\); end the "
                                         r"pipeline with FormatShape"):
        model(torch.zeros(1, 3, 40, 40, 3, dtype=torch.uint8))


def test_a_pretrained_that_is_no_known_source_nor_a_file_names_the_forms_it_takes():
    # was torch's bare "[Errno 2] No such file or directory: 'imagenet'"
    with pytest.raises(FileNotFoundError, match=r"pretrained 'imagenet' is neither 'torchvision:<WEIGHTS>' nor "
                                                r"'timm:<tag>', nor an existing file"):
        TSN("resnet18", 3, 3, pretrained="imagenet")


def test_tsn_takes_numpy_counts_as_the_config_check_does():
    # the config check accepts numbers.Integral (a count computed with numpy); TSN refused np.int64 after it passed
    import numpy as np
    model = TSN("resnet18", num_classes=np.int64(5), num_segments=np.int64(3))
    assert model(torch.zeros(1, 3, 3, 32, 32, dtype=torch.uint8)).shape == (1, 5)
    with pytest.raises(ValueError, match="num_classes must be an int >= 1, got True"):
        TSN("resnet18", num_classes=True, num_segments=3)
