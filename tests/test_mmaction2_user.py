"""An MMAction2 user's own checkpoints into tsnbook: files saved through DataParallel, mmengine runner files
(``epoch_N.pth`` with ``message_hub``), a 1.x ``data_preprocessor`` that normalises otherwise, and the messages
for a checkpoint of another backbone (ResNet-101 weights into a ResNet-50 config).

MMAction2's names are written by `test_checkpoints.mmaction2_resnet_keys` (ConvModule ResNet naming); where the
oracle is installed, the runner file is saved with mmengine's own MessageHub and OptimWrapper.
"""
import pathlib
import sys

import numpy as np
import pytest
import torch
import torchvision

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from test_checkpoints import mmaction2_resnet_keys, random_state  # noqa: E402

from tsnbook.checkpoints import read_checkpoint  # noqa: E402
from tsnbook.factory import build_model, load_model  # noqa: E402
from tsnbook.mmaction2 import load_mmaction2_checkpoint  # noqa: E402

CFG = dict(backbone="resnet18", num_classes=4, num_segments=3, modality="rgb", pretrained=None)


def _mmaction2_resnet18(num_classes=4, seed=0):
    resnet = torchvision.models.resnet18()
    generator = torch.Generator().manual_seed(seed)
    return mmaction2_resnet_keys(random_state(resnet, seed), torch.randn(num_classes, 512, generator=generator),
                                 torch.randn(num_classes, generator=generator))


def test_a_checkpoint_saved_through_dataparallel_loads_like_mmaction2_loads_it(tmp_path):
    # MMAction2's load_checkpoint strips a leading 'module.' (revise_keys=[(r'^module\.', '')])
    state = _mmaction2_resnet18()
    torch.save(dict(meta=dict(mmcv_version="1.3.1"), state_dict=state), tmp_path / "plain.pth")
    torch.save(dict(meta=dict(mmcv_version="1.3.1"), state_dict={"module." + k: v for k, v in state.items()}),
               tmp_path / "dp.pth")
    plain, _ = load_mmaction2_checkpoint(tmp_path / "plain.pth")
    wrapped, report = load_mmaction2_checkpoint(tmp_path / "dp.pth")
    assert (report["backbone"], report["num_classes"]) == ("resnet18", 4)
    for key, value in plain.state_dict().items():
        assert torch.equal(value, wrapped.state_dict()[key]), key
    fine_tuned = build_model(dict(CFG, num_classes=7, load_from=str(tmp_path / "dp.pth")))  # load_from too
    assert torch.equal(fine_tuned.backbone.conv1.weight, plain.backbone.conv1.weight)
    model, _ = load_model(tmp_path / "dp.pth", cfg=CFG)
    assert torch.equal(model.fc.weight, plain.fc.weight)


class HistoryBuffer:
    """Stands in for mmengine's class of that name where the oracle is absent: pickled under mmengine's module."""

    def __init__(self):
        self._log_history = [0.5]


HistoryBuffer.__module__, HistoryBuffer.__qualname__ = "mmengine.logging.history_buffer", "HistoryBuffer"


def _runner_extras(monkeypatch):
    """An mmengine runner's ``message_hub`` and ``optimizer``: mmengine's own where installed, else look-alikes
    pickled under mmengine's names (modules made for the pickling only)."""
    try:
        from oracle import mmaction_1x
        mmaction_1x()
        from mmengine.logging import MessageHub
        from mmengine.optim import OptimWrapper
    except BaseException:  # pytest.skip / fail of the oracle helper, or an import error: the look-alikes
        for name in ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer"):
            monkeypatch.setitem(sys.modules, name, type(sys)(name))
        sys.modules["mmengine.logging.history_buffer"].HistoryBuffer = HistoryBuffer
        return dict(log_scalars={"train/loss": HistoryBuffer()}), torch.optim.SGD(
            torch.nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9).state_dict()
    hub = MessageHub.get_instance("tsnbook_runner_file")
    hub.update_scalar("train/loss", 0.5)
    optimizer = OptimWrapper(torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9))
    return hub.state_dict(), optimizer.state_dict()


def test_an_mmengine_runner_checkpoint_loads_with_trusted_even_without_mmengine(tmp_path, monkeypatch):
    hub, optimizer = _runner_extras(monkeypatch)
    state = _mmaction2_resnet18()
    torch.save(dict(meta=dict(mmengine_version="0.10.7", cfg="model = dict()", epoch=3, dataset_meta={}),
                    state_dict=state, message_hub=hub, optimizer=optimizer, param_schedulers=[]),
               tmp_path / "epoch_3.pth")
    for name in [name for name in sys.modules if name == "mmengine" or name.startswith("mmengine.")]:
        monkeypatch.delitem(sys.modules, name)  # as in tsnbook's environment: mmengine is not installed
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "oracle" not in p])
    with pytest.raises(RuntimeError, match=r"refused the pickled global mmengine\.\S+.*trusted=True"):
        read_checkpoint(tmp_path / "epoch_3.pth")
    model, report = load_mmaction2_checkpoint(tmp_path / "epoch_3.pth", trusted=True)
    assert (report["format"], report["backbone"], report["num_classes"]) == ("1.x", "resnet18", 4)
    assert torch.equal(model.fc.weight, state["cls_head.fc_cls.weight"])
    assert read_checkpoint(tmp_path / "epoch_3.pth", trusted=True)["meta"]["epoch"] == 3


def test_a_data_preprocessor_that_normalises_otherwise_is_named(tmp_path, capsys):
    state = _mmaction2_resnet18()
    same = dict(state, **{"data_preprocessor.mean": torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1),
                          "data_preprocessor.std": torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)})
    torch.save(dict(meta=dict(mmengine_version="0.10.7"), state_dict=same), tmp_path / "same.pth")
    _, report = load_mmaction2_checkpoint(tmp_path / "same.pth")
    assert report["dropped"] == ["data_preprocessor.mean", "data_preprocessor.std"]
    assert report["other_normalisation"] is None and "data_preprocessor" not in capsys.readouterr().out
    other = dict(state, **{"data_preprocessor.mean": torch.tensor([0.0, 0.0, 0.0]).view(3, 1, 1),
                           "data_preprocessor.std": torch.tensor([255.0, 255.0, 255.0]).view(3, 1, 1)})
    torch.save(dict(meta=dict(mmengine_version="0.10.7"), state_dict=other), tmp_path / "other.pth")
    _, report = load_mmaction2_checkpoint(tmp_path / "other.pth")
    assert report["other_normalisation"] == dict(mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0])
    assert ("other.pth: its data_preprocessor normalises with mean [0.0, 0.0, 0.0] std [255.0, 255.0, 255.0], but "
            "tsnbook's rgb TSN uses mean [123.675") in capsys.readouterr().out


def test_resnet101_weights_into_a_resnet50_config_are_called_another_backbone(tmp_path):
    resnet101 = torchvision.models.resnet101()
    state = mmaction2_resnet_keys(resnet101.state_dict(), torch.zeros(5, 2048), torch.zeros(5))
    torch.save(dict(meta=dict(mmcv_version="1.3.1"), state_dict=state), tmp_path / "r101.pth")
    cfg = dict(CFG, backbone="resnet50", num_classes=400)
    with pytest.raises(ValueError) as testing:  # test CONFIG CKPT: classes differ too, but that is not the news
        load_model(tmp_path / "r101.pth", cfg=cfg)
    message = str(testing.value)
    assert "another backbone" in message and "backbone.layer3.6" in message, message
    assert "To fine-tune from it, drop the classifier" not in message, message
    with pytest.raises(ValueError) as training:  # load_from: train has no --no-strict, so it must not advise it
        build_model(dict(cfg, load_from=str(tmp_path / "r101.pth")))
    message = str(training.value)
    assert "another backbone" in message and "--no-strict" not in message, message


# 0.x's _base_/models/tsm_r50.py as the file's meta stores it: TSM's ResNet has exactly TSN's tensors (the
# temporal shift has none), so only the config tells its checkpoint from a TSN's.
TSM_CONFIG = """model = dict(
    type='Recognizer2D',
    backbone=dict(type='ResNetTSM', pretrained='torchvision://resnet50', depth=50, norm_eval=False, shift_div=8),
    cls_head=dict(type='TSMHead', num_classes=4, in_channels=512, spatial_type='avg',
                  consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.5, init_std=0.001, is_shift=True),
    train_cfg=None, test_cfg=dict(average_clips='prob'))
train_pipeline = [dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8)]
"""


def test_a_tsm_checkpoint_is_not_taken_for_a_tsn(tmp_path, capsys):
    torch.save(dict(meta=dict(mmcv_version="1.3.1", config=TSM_CONFIG), state_dict=_mmaction2_resnet18()),
               tmp_path / "tsm.pth")
    with pytest.raises(ValueError, match=r"tsm.pth is a ResNetTSM / TSMHead recognizer \(its meta's config\), not "
                                         r"a TSN.*strict=False"):
        load_mmaction2_checkpoint(tmp_path / "tsm.pth")
    model, report = load_mmaction2_checkpoint(tmp_path / "tsm.pth", strict=False)  # its weights, knowingly
    assert report["num_segments"] == 8 and "not a TSN" in capsys.readouterr().out


def test_a_cut_legacy_format_file_read_with_trust_is_named(tmp_path):
    # torch < 1.6 (the zoo's 2020 files) wrote the legacy, non-zip format; mmcv's meta may hold numpy scalars
    meta = dict(mmcv_version="1.0.0", config="model = dict()", best_score=np.float64(0.5))
    torch.save(dict(meta=meta, state_dict=_mmaction2_resnet18()), tmp_path / "legacy.pth",
               _use_new_zipfile_serialization=False)
    _, report = load_mmaction2_checkpoint(tmp_path / "legacy.pth", trusted=True)
    assert report["backbone"] == "resnet18"
    data = (tmp_path / "legacy.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match=r"cut.pth is not a readable checkpoint.*truncated"):
        read_checkpoint(tmp_path / "cut.pth", trusted=True)


def test_weights_that_are_not_tensors_are_never_placeholders(tmp_path, monkeypatch):
    state = dict(_mmaction2_resnet18(), **{"backbone.odd": HistoryBuffer()})
    for name in ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer"):
        monkeypatch.setitem(sys.modules, name, type(sys)(name))
    sys.modules["mmengine.logging.history_buffer"].HistoryBuffer = HistoryBuffer
    torch.save(dict(meta=dict(mmengine_version="0.10.7"), state_dict=state), tmp_path / "odd.pth")
    for name in ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer"):
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(RuntimeError, match=r"odd.pth: its weights \['backbone.odd'\] are objects of "
                                           r"mmengine.logging.history_buffer.HistoryBuffer, not tensors"):
        read_checkpoint(tmp_path / "odd.pth", trusted=True)


def test_a_zoo_url_as_load_from_says_to_download_it():
    # the zoo's configs set load_from to download.openmmlab.com URLs, which MMAction2 downloads; tsnbook reads files
    url = ("https://download.openmmlab.com/mmaction/recognition/tsn/tsn_r50_256p_1x1x8_100e_kinetics400_rgb/"
           "tsn_r50_256p_1x1x8_100e_kinetics400_rgb_20200817-883baf16.pth")
    with pytest.raises(FileNotFoundError, match=rf"checkpoint {url} is a URL: tsnbook reads local files only; "
                                                rf"download it \(e.g. wget -P checkpoints/ {url}\) and give the file"):
        build_model(dict(CFG, load_from=url))


def test_a_flow_checkpoint_in_an_rgb_config_is_called_a_flow_checkpoint(tmp_path):
    resnet = torchvision.models.resnet18()
    resnet.conv1 = torch.nn.Conv2d(10, 64, 7, 2, 3, bias=False)  # MMAction2's flow ResNet: 2 x clip_len 5 channels
    torch.save(dict(state_dict=mmaction2_resnet_keys(resnet.state_dict(), torch.zeros(4, 512), torch.zeros(4))),
               tmp_path / "flow.pth")
    with pytest.raises(ValueError, match=r"another backbone or modality.* The file takes 10 input channels \(flow with "
                                         r"clip_len 5\), this model 3 \(rgb\)"):
        load_model(tmp_path / "flow.pth", cfg=CFG)


def test_a_tsm_checkpoint_given_with_a_config_or_as_load_from_is_not_taken_for_a_tsn(tmp_path, capsys):
    """``test CONFIG CKPT`` (load_model with a config) refuses a TSM file as load_mmaction2_checkpoint does; as
    ``load_from`` (fine-tuning may start from TSM weights on purpose) it loads with a note, and a 1.x
    data_preprocessor that normalises otherwise is named there too."""
    torch.save(dict(meta=dict(mmcv_version="1.3.1", config=TSM_CONFIG), state_dict=_mmaction2_resnet18()),
               tmp_path / "tsm.pth")
    with pytest.raises(ValueError, match=r"tsm.pth is a ResNetTSM / TSMHead recognizer"):
        load_model(tmp_path / "tsm.pth", cfg=CFG)
    load_model(tmp_path / "tsm.pth", cfg=CFG, strict=False)
    assert "not a TSN" in capsys.readouterr().out
    build_model(dict(CFG, load_from=str(tmp_path / "tsm.pth")))
    assert "not a TSN" in capsys.readouterr().out
    other = dict(_mmaction2_resnet18(), **{"data_preprocessor.mean": torch.zeros(3).view(3, 1, 1),
                                           "data_preprocessor.std": torch.full((3,), 255.0).view(3, 1, 1)})
    torch.save(dict(meta=dict(mmengine_version="0.10.7"), state_dict=other), tmp_path / "other.pth")
    load_model(tmp_path / "other.pth", cfg=CFG)
    assert "other.pth: its data_preprocessor normalises with mean [0.0, 0.0, 0.0]" in capsys.readouterr().out


class RunnerDict(dict):
    """A dict subclass (as addict's / mmengine's ConfigDict) in a file's meta: pickled under a module of its own."""


RunnerDict.__module__, RunnerDict.__qualname__ = "runner_extras", "RunnerDict"


def test_a_trusted_file_that_a_placeholder_cannot_stand_in_for_is_read_with_weights_only_false(tmp_path, monkeypatch):
    # a placeholder is no dict: the weights-only unpickler refuses to SETITEMS into it, which is no damaged file
    monkeypatch.setitem(sys.modules, "runner_extras", type(sys)("runner_extras"))
    sys.modules["runner_extras"].RunnerDict = RunnerDict
    torch.save(dict(meta=dict(dataset_meta=RunnerDict(classes=["a", "b"])), state_dict=_mmaction2_resnet18()),
               tmp_path / "subclass.pth")
    assert read_checkpoint(tmp_path / "subclass.pth", trusted=True)["meta"]["dataset_meta"]["classes"] == ["a", "b"]
    monkeypatch.delitem(sys.modules, "runner_extras")
    with pytest.raises(RuntimeError, match=r"subclass.pth pickles objects of the module 'runner_extras', which is "
                                           r"not installed"):
        read_checkpoint(tmp_path / "subclass.pth", trusted=True)


def test_a_bare_state_dict_whose_weights_are_placeholders_is_refused_by_name(tmp_path, monkeypatch):
    # MMAction2 (and tsnbook) also read a bare state dict, without 'state_dict' around it
    for name in ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer"):
        monkeypatch.setitem(sys.modules, name, type(sys)(name))
    sys.modules["mmengine.logging.history_buffer"].HistoryBuffer = HistoryBuffer
    torch.save(dict(_mmaction2_resnet18(), **{"backbone.odd": HistoryBuffer()}), tmp_path / "bare.pth")
    for name in ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer"):
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(RuntimeError, match=r"bare.pth: its weights \['backbone.odd'\] are objects of "
                                           r"mmengine.logging.history_buffer.HistoryBuffer, not tensors"):
        load_mmaction2_checkpoint(tmp_path / "bare.pth", trusted=True)


def _runner_config(mean, std):
    """A 1.x config as mmengine's pretty_text writes it into a checkpoint's meta (a long list over several lines)."""
    lines = "".join(f"            {value},\n" for value in mean)
    return ("model = dict(\n    type='Recognizer2D',\n    cls_head=dict(type='TSNHead', num_classes=4),\n"
            f"    data_preprocessor=dict(\n        type='ActionDataPreprocessor',\n        mean=[\n{lines}        ],\n"
            f"        std={list(std)},\n        format_shape='NCHW'))\n"
            "train_pipeline = [dict(type='SampleFrames', num_clips=3)]\n")


def test_a_data_preprocessor_named_only_in_the_stored_config_is_named_too(tmp_path, capsys):
    # MMAction2 1.2 registers data_preprocessor.mean/std as non-persistent buffers: its own checkpoints hold them
    # only in meta's config text, never in the state dict
    for name, mean, std in (("epoch_1.pth", [127.5] * 3, [127.5] * 3),
                            ("standard.pth", [123.675, 116.28, 103.53], [58.395, 57.12, 57.375])):
        torch.save(dict(meta=dict(mmengine_version="0.10.7", cfg=_runner_config(mean, std)),
                        state_dict=_mmaction2_resnet18()), tmp_path / name)
    _, report = load_mmaction2_checkpoint(tmp_path / "epoch_1.pth")
    assert report["other_normalisation"] == dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])
    assert "epoch_1.pth: its data_preprocessor normalises with mean [127.5, 127.5, 127.5]" in capsys.readouterr().out
    assert load_mmaction2_checkpoint(tmp_path / "standard.pth")[1]["other_normalisation"] is None


def test_a_stored_config_with_tuples_or_a_top_level_data_preprocessor_is_read_too(tmp_path):
    """pretty_text keeps a tuple a tuple (``mean=(127.5, ...)``), and a config may name the preprocessor at the top
    level (``data_preprocessor = dict(...)``, spaces around '='): either was missed without a word."""
    configs = {"tuples.pth": _runner_config([127.5] * 3, [127.5] * 3).replace("std=[127.5, 127.5, 127.5]",
                                                                                "std=(127.5, 127.5, 127.5)"),
               "top.pth": "data_preprocessor = dict(\n    mean=(127.5, 127.5, 127.5), std=[127.5] * 3)\n"
                          "model = dict(type='Recognizer2D', cls_head=dict(type='TSNHead', num_classes=4))\n"}
    for name, text in configs.items():
        torch.save(dict(meta=dict(mmengine_version="0.10.7", cfg=text), state_dict=_mmaction2_resnet18()),
                   tmp_path / name)
    assert load_mmaction2_checkpoint(tmp_path / "tuples.pth")[1]["other_normalisation"] == dict(
        mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])
    assert load_mmaction2_checkpoint(tmp_path / "top.pth")[1]["other_normalisation"] == dict(
        mean=[127.5, 127.5, 127.5])  # std is an expression: no value to compare
