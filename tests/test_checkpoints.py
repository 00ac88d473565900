"""tsnbook.mmaction2 / checkpoints / factory: MMAction2 key names, architecture inference, safe loading, load_from.

The MMAction2 names are written here from the ConvModule naming of MMAction2's ResNet
(``mmaction/models/backbones/resnet.py``: ``conv1.conv``/``conv1.bn``, ``layerI.J.convK.bn``,
``downsample.conv``/``.bn``), independently of the module's regular expression; where the oracle is installed,
MMAction2's own recognizers (torchvision DenseNet-161 backbone) are used too.
"""
import pathlib
import re
import sys

import numpy as np
import pytest
import torch
import torchvision

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from oracle import mmaction_1x  # noqa: E402

from tsnbook.checkpoints import read_checkpoint  # noqa: E402
from tsnbook.factory import build_model, load_weights  # noqa: E402
from tsnbook.mmaction2 import load_mmaction2_checkpoint, mmaction2_to_tsnbook  # noqa: E402
from tsnbook.models import TSN  # noqa: E402


def mmaction2_resnet_keys(torchvision_state, num_classes_weight, num_classes_bias):
    """A torchvision ResNet state dict renamed the way MMAction2's ConvModule ResNet names it."""
    out = {}
    for key, value in torchvision_state.items():
        if key.startswith("fc."):
            continue
        parts = key.split(".")
        if parts[0] == "conv1":
            new = "conv1.conv." + parts[1]
        elif parts[0] == "bn1":
            new = "conv1.bn." + parts[1]
        elif "downsample" in parts:
            head = ".".join(parts[:3])
            new = f"{head}.{'conv' if parts[3] == '0' else 'bn'}.{parts[4]}"
        else:  # layerI.J.convK.X / layerI.J.bnK.X
            layer, block, name, tensor = parts
            new = f"{layer}.{block}.{name}.conv.{tensor}" if name.startswith("conv") else \
                f"{layer}.{block}.conv{name[2:]}.bn.{tensor}"
        out["backbone." + new] = value
    out["cls_head.fc_cls.weight"], out["cls_head.fc_cls.bias"] = num_classes_weight, num_classes_bias
    return out


def random_state(module, seed=0):
    """The module's state dict with every float tensor randomised (BN statistics too), seeded."""
    generator = torch.Generator().manual_seed(seed)
    return {k: (torch.rand(v.shape, generator=generator) + 0.5 if v.is_floating_point() else v.clone())
            for k, v in module.state_dict().items()}


@pytest.mark.parametrize("name, depth", [("resnet18", 18), ("resnet50", 50)])
def test_mmaction2_resnet_round_trip(tmp_path, name, depth):
    torchvision_state = random_state(torchvision.models.get_model(name))
    weight, bias = torch.randn(9, 512 if depth == 18 else 2048), torch.randn(9)
    theirs = mmaction2_resnet_keys(torchvision_state, weight, bias)
    theirs["data_preprocessor.mean"] = torch.zeros(3, 1, 1)  # some 1.x files keep it
    renamed, dropped = mmaction2_to_tsnbook(theirs)
    assert dropped == ["data_preprocessor.mean"]
    expected = {"backbone." + k: v for k, v in torchvision_state.items() if not k.startswith("fc.")}
    expected.update({"fc.weight": weight, "fc.bias": bias})
    assert renamed.keys() == expected.keys() and all(renamed[k] is expected[k] for k in expected)
    torch.save(dict(state_dict=theirs), tmp_path / "r.pth")
    model, report = load_mmaction2_checkpoint(tmp_path / "r.pth")
    assert (report["backbone"], report["num_classes"], report["modality"]) == (name, 9, "rgb")
    assert report["missing"] == report["unexpected"] == [] and report["num_segments_from"] == "default"
    assert not model.training
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in expected.items())


def test_resnext_groups_and_flow_are_read_from_the_weights(tmp_path):
    # mmcls's ResNeXt keys are torchvision's under backbone.; the 3x3 conv's shape gives groups x width.
    resnext = torchvision.models.resnext50_32x4d()
    state = {"backbone." + k: v for k, v in resnext.state_dict().items() if not k.startswith("fc.")}
    state.update({"cls_head.fc_cls.weight": torch.zeros(4, 2048), "cls_head.fc_cls.bias": torch.zeros(4)})
    torch.save(dict(meta=dict(mmcv_version="1.7"), state_dict=state), tmp_path / "x.pth")
    model, report = load_mmaction2_checkpoint(tmp_path / "x.pth", num_segments=8)
    assert report["backbone"] == "resnext50_32x4d" and report["num_segments"] == 8 and report["format"] == "0.x"
    assert model.backbone.layer1[0].conv2.groups == 32 and not report["missing"]
    # the zoo's ResNeXt-101 32x4d is not a torchvision model: built from torchvision's ResNet class
    big = TSN("resnext101_32x4d", num_classes=400)
    assert big.backbone.layer3[22].conv2.groups == 32 and big.backbone.layer1[0].conv2.out_channels == 128
    # flow: a 10-channel conv1 -> modality flow, clip_len 5
    flow_state = mmaction2_resnet_keys(random_state(torchvision.models.resnet18()), torch.zeros(3, 512), torch.zeros(3))
    flow_state["backbone.conv1.conv.weight"] = torch.randn(64, 10, 7, 7)
    torch.save(dict(state_dict=flow_state), tmp_path / "flow.pth")
    model, report = load_mmaction2_checkpoint(tmp_path / "flow.pth")
    assert (report["modality"], report["clip_len"], model.in_channels) == ("flow", 5, 10)
    assert torch.equal(model.backbone.conv1.weight, flow_state["backbone.conv1.conv.weight"])


def test_densenet_keys_are_torchvisions_under_backbone(tmp_path):
    # MMAction2's torchvision backbone keeps torchvision's names: backbone.features.denseblockI.denselayerJ...
    densenet = torchvision.models.densenet121()
    state = {"backbone." + k: v for k, v in random_state(densenet).items() if not k.startswith("classifier.")}
    state.update({"cls_head.fc_cls.weight": torch.randn(4, 1024), "cls_head.fc_cls.bias": torch.zeros(4)})
    torch.save(dict(state_dict=state), tmp_path / "d121.pth")
    model, report = load_mmaction2_checkpoint(tmp_path / "d121.pth")
    assert report["backbone"] == "densenet121" and report["missing"] == report["unexpected"] == []
    assert model.densenet_quirk and model.feature_dim == 1024
    assert torch.equal(model.backbone.features.denseblock3.denselayer24.conv2.weight,
                       state["backbone.features.denseblock3.denselayer24.conv2.weight"])


def test_densenet161_from_mmaction2s_own_recognizer(tmp_path):
    mmaction_1x()
    from mmaction.registry import MODELS
    torch.manual_seed(0)
    recognizer = MODELS.build(dict(
        type="Recognizer2D", backbone=dict(type="torchvision.densenet161"),
        cls_head=dict(type="TSNHead", num_classes=6, in_channels=2208, average_clips="score"),
        data_preprocessor=dict(type="ActionDataPreprocessor", mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], format_shape="NCHW")))
    with torch.no_grad():
        for key, value in recognizer.state_dict().items():
            if "running_var" in key or "norm" in key and key.endswith("weight"):
                value.uniform_(0.5, 1.5)
            elif "running_mean" in key or key.endswith("bias"):
                value.normal_(0, 0.1)
    recognizer.eval()
    torch.save(dict(meta=dict(mmengine_version="0.10.7"), state_dict=recognizer.state_dict()), tmp_path / "d.pth")
    model, report = load_mmaction2_checkpoint(tmp_path / "d.pth")
    assert report["backbone"] == "densenet161" and report["missing"] == report["unexpected"] == []
    images = torch.randint(0, 256, (1, 2, 3, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        ours = model(images)
        normalised = ((images.float().flatten(0, 1) - model.mean) / model.std).view(images.shape)
        features, kwargs = recognizer.extract_feat(normalised, test_mode=True)
        theirs = recognizer.cls_head(features, **kwargs)
        assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-4)
        # torchvision's final ReLU would give another answer: the quirk matters for this checkpoint
        relu_model, _ = load_mmaction2_checkpoint(tmp_path / "d.pth", densenet_relu=True)
        assert not torch.allclose(relu_model.eval()(images), theirs, atol=1e-3)


def test_timm_backbones_take_their_name_from_the_config_text(tmp_path):
    pytest.importorskip("timm")
    torch.manual_seed(0)
    source = TSN("timm/test_vit", num_classes=3, pretrained=None)
    state = {k.replace("fc.", "cls_head.fc_cls."): v for k, v in source.state_dict().items()}
    config = "model = dict(backbone=dict(type='timm.test_vit', pretrained=True))\n"
    torch.save(dict(meta=dict(config=config), state_dict=state), tmp_path / "t.pth")
    model, report = load_mmaction2_checkpoint(tmp_path / "t.pth")
    assert report["backbone"] == "timm/test_vit" and not report["missing"] and not report["unexpected"]
    x = torch.randint(0, 256, (1, 2, 3, 160, 160), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.allclose(model(x), source.eval()(x), atol=1e-5)
    torch.save(dict(state_dict=state), tmp_path / "bare.pth")
    with pytest.raises(ValueError, match="pass backbone='timm/<name>'"):
        load_mmaction2_checkpoint(tmp_path / "bare.pth")


def test_unpickling_other_objects_needs_trust(tmp_path):
    state = mmaction2_resnet_keys(torchvision.models.resnet18().state_dict(), torch.zeros(2, 512), torch.zeros(2))
    torch.save(dict(meta=dict(best_score=np.float64(0.75)), state_dict=state), tmp_path / "n.pth")
    with pytest.raises(RuntimeError, match=r"refused the pickled global numpy\.\S*scalar.*trusted=True"):
        load_mmaction2_checkpoint(tmp_path / "n.pth")
    model, report = load_mmaction2_checkpoint(tmp_path / "n.pth", trusted=True)  # numpy allow-listed
    assert report["backbone"] == "resnet18"
    assert read_checkpoint(tmp_path / "n.pth", trusted=True)["meta"]["best_score"] == 0.75
    with pytest.raises(FileNotFoundError, match="absent.pth does not exist"):
        read_checkpoint(tmp_path / "absent.pth")
    (tmp_path / "garbage.pth").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(RuntimeError, match="garbage.pth is not a readable checkpoint"):
        read_checkpoint(tmp_path / "garbage.pth")
    (tmp_path / "cut.pth").write_bytes((tmp_path / "n.pth").read_bytes()[:4000])
    with pytest.raises(RuntimeError, match="cut.pth is not a readable checkpoint"):
        read_checkpoint(tmp_path / "cut.pth", trusted=True)


def test_missing_and_unexpected_keys_are_an_error_unless_strict_is_off(tmp_path, capsys):
    state = mmaction2_resnet_keys(torchvision.models.resnet18().state_dict(), torch.zeros(2, 512), torch.zeros(2))
    del state["backbone.layer4.1.conv2.bn.running_var"]
    state["backbone.extra.weight"] = torch.zeros(1)
    torch.save(dict(state_dict=state), tmp_path / "m.pth")
    listed = (r"1 missing key\(s\) \['backbone.layer4.1.bn2.running_var'\], 1 unexpected key\(s\) "
              r"\['backbone.extra.weight'\].*strict=False")
    with pytest.raises(ValueError, match=listed):
        load_mmaction2_checkpoint(tmp_path / "m.pth")  # a partly random network must not pass for the file's
    with pytest.raises(ValueError, match=listed):
        build_model(dict(backbone="resnet18", num_classes=2, num_segments=3, modality="rgb",
                         load_from=str(tmp_path / "m.pth")))
    _, report = load_mmaction2_checkpoint(tmp_path / "m.pth", strict=False)
    assert report["missing"] == ["backbone.layer4.1.bn2.running_var"]
    assert report["unexpected"] == ["backbone.extra.weight"]
    printed = capsys.readouterr().out
    assert "1 missing key(s)" in printed and "backbone.extra.weight" in printed


def test_load_from_drops_a_classifier_of_another_size(tmp_path, capsys):
    cfg = dict(backbone="resnet18", num_classes=5, num_segments=3, modality="rgb", pretrained=None)
    torch.manual_seed(0)
    source = build_model(dict(cfg, num_classes=8))
    torch.save(dict(model=source.state_dict(), cfg_name="x"), tmp_path / "tsnbook.pth")
    torch.manual_seed(1)
    model = build_model(dict(cfg, load_from=str(tmp_path / "tsnbook.pth")))
    assert "classifier (8, 512) does not fit this model's (5, 512); it is dropped" in capsys.readouterr().out
    assert torch.equal(model.backbone.layer3[0].conv1.weight, source.backbone.layer3[0].conv1.weight)
    assert model.fc.weight.shape == (5, 512)
    # an MMAction2 file works as well, and a backbone that does not fit is an error, not a silent skip
    mm = mmaction2_resnet_keys(source.backbone.state_dict(), torch.ones(5, 512), torch.zeros(5))
    torch.save(dict(state_dict=mm), tmp_path / "mm.pth")
    load_weights(model, tmp_path / "mm.pth", drop_classifier=True)
    assert torch.equal(model.fc.weight, torch.ones(5, 512))
    flow = build_model(dict(cfg, modality="flow", clip_len=5))
    with pytest.raises(ValueError, match=re.escape("backbone.conv1.weight: checkpoint (64, 3, 7, 7) vs model "
                                                   "(64, 10, 7, 7)")):
        load_weights(flow, tmp_path / "mm.pth", drop_classifier=True)


def test_swin_weights_of_the_old_timm_layout_are_converted(tmp_path):
    pytest.importorskip("timm")
    torch.manual_seed(0)
    source = TSN("timm/swin_tiny_patch4_window7_224", num_classes=3).eval()
    config = "model = dict(backbone=dict(type='timm.swin_tiny_patch4_window7_224', pretrained=True))"
    new = {k.replace("fc.", "cls_head.fc_cls."): v for k, v in source.state_dict().items()}
    # timm < 0.9 (MMAction2 0.x) kept each stage's patch merging at the end of that stage, not the next one's start
    old = {re.sub(r"layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", k): v
           for k, v in new.items()}
    assert old.keys() != new.keys()
    x = torch.randint(0, 256, (1, 1, 3, 224, 224), dtype=torch.uint8)
    for name, state in (("new", new), ("old", old)):
        torch.save(dict(meta=dict(config=config), state_dict=state), tmp_path / f"{name}.pth")
        model, report = load_mmaction2_checkpoint(tmp_path / f"{name}.pth")
        assert report["backbone"] == "timm/swin_tiny_patch4_window7_224"
        assert report["missing"] == report["unexpected"] == []
        with torch.no_grad():
            assert torch.allclose(model(x), source(x), atol=1e-5)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_export_writes_mmaction2_names_and_loads_back_identically(tmp_path, name):
    from tsnbook.mmaction2 import export_mmaction2_checkpoint
    torch.manual_seed(0)
    model = TSN(name, num_classes=7, num_segments=3)
    export_mmaction2_checkpoint(model, tmp_path / "m.pth")
    written = torch.load(tmp_path / "m.pth", weights_only=True)["state_dict"]
    tv_state = {k[len("backbone."):]: v for k, v in model.state_dict().items() if k.startswith("backbone.")}
    expected = mmaction2_resnet_keys(tv_state, model.fc.weight, model.fc.bias)  # written independently
    assert written.keys() == expected.keys()
    assert all(torch.equal(written[k], expected[k]) for k in expected)
    loaded, report = load_mmaction2_checkpoint(tmp_path / "m.pth")
    assert report["missing"] == report["unexpected"] == []
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())


def test_export_refuses_backbones_without_mmaction2_names(tmp_path):
    from tsnbook.mmaction2 import export_mmaction2_checkpoint
    with pytest.raises(ValueError, match="ResNet backbones"):
        export_mmaction2_checkpoint(TSN("mobilenet_v3_small", 5, 3), tmp_path / "m.pth")


def test_an_export_a_folder_or_a_video_given_as_the_checkpoint_is_named_for_what_it_is(tmp_path):
    import warnings

    from conftest import cli_exit
    from tsnbook.io import write_video
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation
        torch.jit.trace(torch.nn.Linear(2, 2), torch.zeros(1, 2)).save(str(tmp_path / "tsn.pt"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match=r"tsn.pt is a TorchScript export \(tsnbook export\), not a training "
                                               r"checkpoint; run it with torch.jit.load$"):
            read_checkpoint(tmp_path / "tsn.pt")
    assert not caught, [str(w.message) for w in caught]  # torch's "looks like a TorchScript archive" is not reached
    (tmp_path / "config.py").write_text("base = 'tsn_r18_1x1x3_12e_synthactions_rgb'\n")
    with pytest.raises(RuntimeError, match=r"config.py is a config file, not a checkpoint: give the trained weights"):
        read_checkpoint(tmp_path / "config.py")
    (tmp_path / "tsn.ts").write_bytes((tmp_path / "tsn.pt").read_bytes())  # export's other suffix, a video's too
    with pytest.raises(RuntimeError, match=r"tsn.ts is a TorchScript export"):
        read_checkpoint(tmp_path / "tsn.ts")
    (tmp_path / "run").mkdir()
    torch.save(dict(model={}), tmp_path / "run" / "latest.pth")
    with pytest.raises(ValueError, match=r"run is a folder, not a checkpoint: give the file, e.g. .*run/latest.pth"):
        read_checkpoint(tmp_path / "run")
    write_video(tmp_path / "clip.mp4", np.zeros((2, 32, 32, 3), np.uint8), fps=25)
    message = cli_exit(["predict", tmp_path / "clip.mp4", tmp_path / "run" / "latest.pth"])  # the arguments swapped
    assert message == (f"error: {tmp_path / 'clip.mp4'} is not a checkpoint (a video? the checkpoint comes first: "
                       f"predict CHECKPOINT VIDEO)"), message


# Zoo layouts built by MMAction2 1.2.0 itself: the flow rows' 10-channel ResNet-50, the MMiT row's ResNet-101 and
# the Swin row's timm backbone (its NHWC features pooled by the recognizer, as the row's config asks).
_RGB = ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375])
MMACTION2_LAYOUTS = {
    "flow_resnet50": (dict(type="ResNet", depth=50, in_channels=10, pretrained=None), 2048, 64, "resnet50"),
    "resnet101": (dict(type="ResNet", depth=101, pretrained=None), 2048, 64, "resnet101"),
    "swin": (dict(type="timm.swin_tiny_patch4_window7_224", pretrained=False, feature_shape="NHWC"), 768, 224,
             "timm/swin_tiny_patch4_window7_224"),
}


@pytest.mark.parametrize("layout", sorted(MMACTION2_LAYOUTS))
def test_zoo_layouts_saved_by_mmaction2_score_alike(tmp_path, layout):
    mmaction_1x()
    from mmaction.registry import MODELS
    backbone, channels, size, expected = MMACTION2_LAYOUTS[layout]
    if backbone["type"].startswith("timm."):
        pytest.importorskip("timm")
    flow = backbone.get("in_channels") == 10
    mean, std = ([128.0] * 10, [128.0] * 10) if flow else _RGB
    torch.manual_seed(0)
    recognizer = MODELS.build(dict(
        type="Recognizer2D", backbone=dict(backbone),
        cls_head=dict(type="TSNHead", num_classes=7, in_channels=channels, average_clips="score"),
        data_preprocessor=dict(type="ActionDataPreprocessor", mean=mean, std=std, format_shape="NCHW")))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # trained-looking normalisation statistics and a classifier with spread-out logits
        for key, value in recognizer.state_dict().items():
            if key.endswith("running_var") or (key.endswith(".weight") and (".bn." in key or "norm" in key)):
                value.copy_(torch.rand(value.shape, generator=generator) + 0.5)
            elif key.endswith(("running_mean", ".bias")):
                value.copy_(torch.randn(value.shape, generator=generator) * 0.1)
            elif key == "cls_head.fc_cls.weight":
                value.copy_(torch.randn(value.shape, generator=generator) * 0.05)
    recognizer.eval()
    config = f"model = dict(backbone=dict(type='{backbone['type']}'))\n"
    torch.save(dict(meta=dict(mmengine_version="0.10.7", cfg=config), state_dict=recognizer.state_dict()),
               tmp_path / "zoo.pth")
    model, report = load_mmaction2_checkpoint(tmp_path / "zoo.pth")
    assert (report["backbone"], report["modality"], report["missing"], report["unexpected"]) == (
        expected, "flow" if flow else "rgb", [], [])
    images = torch.randint(0, 256, (1, 4, 10 if flow else 3, size, size), generator=generator, dtype=torch.uint8)
    with torch.no_grad():
        ours = model(images)
        normalised = (images.float() - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)
        features, kwargs = recognizer.extract_feat(normalised, test_mode=True)
        theirs = recognizer.cls_head(features, **kwargs)
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-4 * float(theirs.abs().max()))
    assert float(theirs.max() - theirs.min()) > 0.1  # spread-out logits: a wrong mapping could not pass by luck


@pytest.mark.parametrize("content", [b"hello", b"RedBall/v_RedBall_g01_c01.mp4 0\n", b"abc def\n"])
def test_a_text_file_given_as_a_checkpoint_is_named_not_a_bare_unpickler_error(tmp_path, content):
    # torch's weights-only unpickler raised KeyError: 101 and IndexError: pop from empty list on these
    (tmp_path / "notes.pth").write_bytes(content)
    with pytest.raises(RuntimeError, match=r"notes.pth is not a readable checkpoint \(.+\); it may be truncated"):
        read_checkpoint(tmp_path / "notes.pth")


def test_exporting_a_timm_resnet_to_mmaction2_names_the_library_not_resnet_twice(tmp_path):
    # was "MMAction2 key names are defined for ResNet backbones, not ResNet" (timm's class is also called ResNet)
    from tsnbook.mmaction2 import export_mmaction2_checkpoint
    with pytest.raises(ValueError, match=r"defined for torchvision's ResNet backbones, not timm\.models\.resnet\.ResNet "
                                         r"\(timm/resnet10t\)"):
        export_mmaction2_checkpoint(TSN("timm/resnet10t", 3, 3), tmp_path / "x.pth")
    assert not (tmp_path / "x.pth").exists()


def test_a_file_that_stores_only_its_configs_name_loads_into_the_config_given(tmp_path, capsys):
    """An older checkpoint stores only ``cfg_name``: today's config of that name is a guess at its architecture (the
    run may have overridden num_classes), not a fact to refuse the config given against - its weights decide."""
    from tsnbook.configs import get_config
    from tsnbook.factory import load_model
    name = "tsn_r18_1x1x3_12e_synthactions_rgb"
    cfg = dict(get_config(name), num_classes=5, pretrained=None)  # a run of that config with 5 classes
    torch.manual_seed(0)
    source = build_model(cfg)
    torch.save(dict(model=source.state_dict(), cfg_name=name, epoch=3), tmp_path / "old.pth")
    model, info = load_model(tmp_path / "old.pth", cfg=cfg)
    assert model.num_classes == 5 and torch.equal(model.fc.weight, source.fc.weight)
    assert "stores only its config's name" not in capsys.readouterr().out  # the name was not used
    with pytest.raises(ValueError, match=r"checkpoint \(5, 512\) vs model \(8, 512\)"):  # its weights decide
        load_model(tmp_path / "old.pth", cfg=dict(cfg, num_classes=8))


def test_a_flow_checkpoint_fits_only_a_config_with_its_clip_len():
    """A flow TSN's first conv takes 2 x clip_len channels: another clip_len cannot load its weights, so it is
    refused by name like another backbone; so is another segment count under a weighted consensus (a weight per
    segment). An RGB config's clip_len shapes nothing, nor does num_segments under the average."""
    from tsnbook.checkpoints import check_architecture
    flow = dict(name="f", num_classes=8, modality="flow", backbone="resnet18", clip_len=5)
    check_architecture(flow, dict(flow, name="g"), "x.pth", "fix it")
    check_architecture(dict(flow, modality="rgb"), dict(flow, modality="rgb", clip_len=1), "x.pth", "fix it")
    check_architecture("f", dict(flow, clip_len=10), "x.pth", "fix it")  # only a name stored: nothing to compare
    with pytest.raises(ValueError, match=r"^x.pth was trained by f \(8 classes, flow, resnet18, clip_len 5\) but the "
                                         r"config given \(g\) describes \(8 classes, flow, resnet18, clip_len 10\): "
                                         r"its weights cannot fit; fix it$"):
        check_architecture(flow, dict(flow, name="g", clip_len=10), "x.pth", "fix it")
    weighted = dict(flow, consensus="weighted", num_segments=3)  # one learned weight per segment
    check_architecture(dict(flow, num_segments=3), dict(flow, num_segments=8), "x.pth", "fix it")
    with pytest.raises(ValueError, match=r"weighted consensus of 3 segments\) but .* of 8 segments\)"):
        check_architecture(weighted, dict(weighted, num_segments=8), "x.pth", "fix it")
