"""Kinetics-400 TSN with third-party backbones (MMAction2 ``configs/recognition/tsn/custom_backbones``).

MMAction2 took them from MMClassification (ResNeXt-101 32x4d), TorchVision (DenseNet-161) and timm (Swin-B).
Here: torchvision's ``densenet161`` and timm's ``resnext101_32x4d`` / ``swin_base_patch4_window7_224``
(``backbone="timm/<name>"``, agreed config keys). MMAction2 initialised the ResNeXt from an MMClassification
ImageNet checkpoint (``load_from``, backbone keys only); timm's ImageNet-1k weights stand in for it here
(``timm:gluon_in1k``, pinned: timm's default tag for this model is a YFCC100M semi-supervised one), and the
MMClassification URL is kept in the ``zoo`` notes. Swin-B: ``timm:ms_in22k_ft_in1k``, the weights timm < 0.9 (what
MMAction2 0.x used) loaded for the untagged name. Frames and lists as in `tsnbook.configs.kinetics400`.
"""
from ._zoo import add_tiny_variants, eval_pipeline, row, train_pipeline, zoo
from .kinetics400 import _rf320, _video

_custom = dict(_rf320, eval_interval=1,  # these files have no evaluation dict: MMAction2's EvalHook default, 1
               train_pipeline=train_pipeline("rrc"), val_pipeline=eval_pipeline(1, 256),
               test_pipeline=eval_pipeline(3))
_DIR = "custom_backbones/"

tsn_rn101_32x4d_320p_1x1x3_100e_kinetics400_rgb = row(
    _custom, gpus=16, batch_size=16, backbone="timm/resnext101_32x4d", pretrained="timm:gluon_in1k", lr=0.005,
    zoo=zoo("Kinetics-400", 73.43, 91.01, _DIR + "tsn_rn101_32x4d_320p_1x1x3_100e_kinetics400_rgb-16a8b561.pth",
            resolution="short side 320", gpus="8x2", pretrain="ImageNet", test_protocol="25x3",
            backbone="ResNeXt101-32x4d [MMCls]",
            load_from_url="https://download.openmmlab.com/mmclassification/v0/resnext/"
                          "resnext101_32x4d_batch256_imagenet_20200708-87f2d1c9.pth",
            notes="MMAction2 loads the MMCls ImageNet ResNeXt via load_from; tsnbook uses timm's ImageNet weights"),
)

tsn_dense161_320p_1x1x3_100e_kinetics400_rgb = row(
    _custom, gpus=16, batch_size=12, backbone="densenet161", lr=0.00375,
    zoo=zoo("Kinetics-400", 72.78, 90.75, _DIR + "tsn_dense161_320p_1x1x3_100e_kinetics400_rgb/"
            "tsn_dense161_320p_1x1x3_100e_kinetics400_rgb-cbe85332.pth",
            resolution="short side 320", gpus="8x2", pretrain="ImageNet", test_protocol="25x3",
            backbone="Densenet-161 [TorchVision]",
            notes="head input 2208; no final ReLU after .features"),
)

tsn_swin_transformer_video_320p_1x1x3_100e_kinetics400_rgb = row(
    _video, gpus=8, batch_size=24, backbone="timm/swin_base_patch4_window7_224",
    pretrained="timm:ms_in22k_ft_in1k", lr=0.0075,
    eval_interval=1, train_pipeline=train_pipeline("rrc", resize=False), val_pipeline=eval_pipeline(1),
    test_pipeline=eval_pipeline(10),
    zoo=zoo("Kinetics-400", 77.51, 92.92, _DIR + "tsn_swin_transformer_video_320p_1x1x3_100e_kinetics400_rgb/"
            "tsn_swin_transformer_video_320p_1x1x3_100e_kinetics400_rgb-805380f6.pth",
            resolution="short side 320", gpus=8, pretrain="ImageNet", test_protocol="25x10",
            backbone="Swin Transformer Base [timm]", notes="head input 1024; the timm version used is unverified"),
)

add_tiny_variants(globals())
