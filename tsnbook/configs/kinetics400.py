"""The Kinetics-400 rows of the TSN zoo: RGB frames at three resolutions, flow, whole videos, dense sampling.

Real layout (MMAction2 0.x's configs and ``tools/data/kinetics/README.md``): ``data/kinetics400/`` holds
``rawframes_{train,val}`` (340x256 frames), ``rawframes_{train,val}_{320p,256p}`` (short side 320 / 256) and
``videos_{train,val}``, with class folders inside, and the lists ``kinetics400_{train,val}_list_rawframes[_320p|
_256p].txt``, ``kinetics400_{train,val}_list_videos.txt`` and the flow lists (``x_00001.jpg`` / ``y_00001.jpg`` inside
each frame folder). MMAction2 reads val and test from a second folder (``data_root_val``): here ``data_prefix_val``.

Naming notes (the zoo README, not MMAction2's files):
- "tsn_r50_1x1x3_100e_kinetics400_rgb" has two rows, 340x256 (checkpoint e508be42, this config) and short side
  256 (checkpoint 22592236). The second one is the data-benchmark config
  ``tsn_r50_multiscalecrop_256p_1x1x3_100e_kinetics400_rgb`` (same checkpoint); it is recorded in this config's
  ``zoo["other_rows"]`` rather than duplicated.
- "tsn_r50_1x1x8_100e_kinetics400_rgb" is a short-side-256 row (checkpoint 883baf16) whose link points at the 320p
  file; no 256p 1x1x8 file exists. The config of that name is the linked 320p recipe on the 256p frames.
- "tsn_r50_dense_1x1x5_50e_kinetics400_rgb" is the README's name; the file is ``..._100e_...`` and trains 100
  epochs. The config keeps the README's name (the row), the file name is in its ``zoo`` notes.
- The two "[1: 1]" two-stream rows are not configs: `TWO_STREAM` names the RGB and flow configs they fuse.
- The OmniSource rows have no names and no configs (checkpoints only): they are in the ``zoo`` dict of
  ``tsn_r50_1x1x3_100e_kinetics400_rgb``, which MMAction2's metafile points them at.
"""
from ._zoo import CKPT, COMMON, add_tiny_variants, eval_pipeline, row, train_pipeline, zoo

_k400 = dict(
    COMMON, num_classes=400, data_root="data/kinetics400", lr=0.01, lr_steps=[40, 80], epochs=100, eval_interval=5,
    num_segments=3, val_clips=3, test_clips=25,
)
# frame folders, one per resolution (MMAction2's data_root / data_root_val and list names)
_rf340 = dict(_k400, source="rawframes", data_prefix="rawframes_train", data_prefix_val="rawframes_val",
              filename_tmpl="img_{:05}.jpg", start_index=1,
              ann_file_train="kinetics400_train_list_rawframes.txt", ann_file_val="kinetics400_val_list_rawframes.txt",
              ann_file_test="kinetics400_val_list_rawframes.txt")
_rf320 = dict(_rf340, data_prefix="rawframes_train_320p", data_prefix_val="rawframes_val_320p",
              ann_file_train="kinetics400_train_list_rawframes_320p.txt",
              ann_file_val="kinetics400_val_list_rawframes_320p.txt",
              ann_file_test="kinetics400_val_list_rawframes_320p.txt")
_rf256 = dict(_rf340, data_prefix="rawframes_train_256p", data_prefix_val="rawframes_val_256p",
              ann_file_train="kinetics400_train_list_rawframes_256p.txt",
              ann_file_val="kinetics400_val_list_rawframes_256p.txt",
              ann_file_test="kinetics400_val_list_rawframes_256p.txt")
_video = dict(_k400, source="video", data_prefix="videos_train", data_prefix_val="videos_val",
              ann_file_train="kinetics400_train_list_videos.txt", ann_file_val="kinetics400_val_list_videos.txt",
              ann_file_test="kinetics400_val_list_videos.txt")
# flow: x_00001.jpg / y_00001.jpg next to the RGB frames of the 320p folders; conv1 of the 10-channel ResNet
# does not match the ImageNet weights and starts random in MMAction2 (its ResNet copies only tensors of matching
# shape: ``_load_torchvision_checkpoint`` in mmaction/models/backbones/resnet.py)
_flow320 = dict(_rf320, source="flow", modality="flow", clip_len=5, filename_tmpl="{}_{:05d}.jpg", start_index=1,
                flow_init="random", lr=0.005, lr_steps=[70, 100], epochs=110,
                train_pipeline=train_pipeline("rrc", flow=True), val_pipeline=eval_pipeline(1, flow=True),
                test_pipeline=eval_pipeline(10, flow=True))


def _ckpt(name, stamp):
    return f"{name}/{name}_{stamp}.pth"


_OMNI = CKPT + "omni/tsn_{}_1x1x3_kinetics400_rgb_20200926-{}.pth"


tsn_r50_1x1x3_100e_kinetics400_rgb = row(
    _rf340, checkpoint_interval=5, gpus=8, batch_size=32,
    train_pipeline=train_pipeline("msc"), val_pipeline=eval_pipeline(1), test_pipeline=eval_pipeline(10),
    zoo=zoo("Kinetics-400", 70.60, 89.26, _ckpt("tsn_r50_1x1x3_100e_kinetics400_rgb", "20200614-e508be42"),
            resolution="340x256", gpus=8, pretrain="ImageNet", test_protocol="25x10", memory_mb=8344,
            inference="4.3 video/s (25x10 frames)",
            test_protocols={"25x10": (70.60, 89.26), "25x3": (70.52, 89.39)},
            other_rows={"short side 256": dict(
                top1=70.42, top5=89.03, memory_mb=8343, config="tsn_r50_multiscalecrop_256p_1x1x3_100e_kinetics400_rgb",
                checkpoint=CKPT + _ckpt("tsn_r50_256p_1x1x3_100e_kinetics400_rgb", "20200725-22592236"))},
            omnisource={  # rows "x" of the OmniSource table: released checkpoints, no config of their own
                "ImageNet, 340x256, without OmniSource": dict(top1=70.6, top5=89.3, checkpoint=CKPT + _ckpt(
                    "tsn_r50_1x1x3_100e_kinetics400_rgb", "20200614-e508be42")),
                "ImageNet, 340x256, with OmniSource": dict(
                    top1=73.6, top5=91.0, checkpoint=_OMNI.format("imagenet_pretrained_r50_omni", "54192355")),
                "IG-1B (resnet50_swsl), short side 320, without OmniSource": dict(
                    top1=73.1, top5=90.4, checkpoint=_OMNI.format("1G1B_pretrained_r50_without_omni", "c133dd49")),
                "IG-1B (resnet50_swsl), short side 320, with OmniSource": dict(
                    top1=75.7, top5=91.9, checkpoint=_OMNI.format("1G1B_pretrained_r50_omni", "2863fed0"))}),
)

tsn_r50_dense_1x1x5_50e_kinetics400_rgb = row(
    _rf340, gpus=24, batch_size=16, sampler="dense", dense_sample_range=64, dense_test_positions=10,
    num_segments=5, val_clips=8, test_clips=8,
    train_pipeline=train_pipeline("msc", num_fixed_crops=13), val_pipeline=eval_pipeline(1),
    test_pipeline=eval_pipeline(1), lr=0.03, grad_clip=20.0, dropout=0.5, init_std=0.001, eval_interval=2,
    zoo=zoo("Kinetics-400", 70.18, 89.10, _ckpt("tsn_r50_dense_1x1x5_100e_kinetics400_rgb", "20200627-a063165f"),
            resolution="340x256", gpus="8x3", pretrain="ImageNet", test_protocol="dense 8 clips x 10 positions x "
            "CenterCrop 224 (80 views)", memory_mb=7028, inference="12.7 video/s (8x10 frames)",
            reference=(69.15, 88.56),
            notes="README name says 50e; MMAction2's file is tsn_r50_dense_1x1x5_100e_kinetics400_rgb.py and "
                  "trains 100 epochs. Trains on 5 dense clips but validates/tests on 8."),
)

tsn_r50_320p_1x1x3_100e_kinetics400_rgb = row(
    _rf320, checkpoint_interval=5, gpus=16, batch_size=32,
    train_pipeline=train_pipeline("rrc"), val_pipeline=eval_pipeline(1, 256), test_pipeline=eval_pipeline(3),
    zoo=zoo("Kinetics-400", 70.91, 89.51, _ckpt("tsn_r50_320p_1x1x3_100e_kinetics400_rgb", "20200702-cc665e2a"),
            resolution="short side 320", gpus="8x2", pretrain="ImageNet", test_protocol="25x3", memory_mb=8344,
            inference="10.7 video/s (25x3 frames)"),
)

tsn_r50_320p_1x1x3_110e_kinetics400_flow = row(
    _flow320, checkpoint_interval=5, gpus=16, batch_size=32,
    ann_file_train="kinetics_flow_train_list.txt", ann_file_val="kinetics_flow_val_list.txt",
    ann_file_test="kinetics_flow_val_list.txt",
    zoo=zoo("Kinetics-400", 55.70, 79.85, _ckpt("tsn_r50_320p_1x1x3_110e_kinetics400_flow", "20200705-3036bab6"),
            resolution="short side 320", gpus="8x2", pretrain="ImageNet", test_protocol="25x10", memory_mb=8471),
)

tsn_r50_320p_1x1x8_100e_kinetics400_rgb = row(
    _rf320, gpus=24, batch_size=12, num_segments=8, val_clips=8, lr=0.00375, eval_interval=2,
    train_pipeline=train_pipeline("rrc"), val_pipeline=eval_pipeline(1, 256), test_pipeline=eval_pipeline(3),
    zoo=zoo("Kinetics-400", 72.41, 90.55, _ckpt("tsn_r50_320p_1x1x8_100e_kinetics400_rgb", "20200702-ef80e3d7"),
            resolution="short side 320", gpus="8x3", pretrain="ImageNet", test_protocol="25x3", memory_mb=8344,
            inference="11.1 video/s (25x3 frames)"),
)

tsn_r50_1x1x8_100e_kinetics400_rgb = dict(
    tsn_r50_320p_1x1x8_100e_kinetics400_rgb,
    **{k: _rf256[k] for k in ("data_prefix", "data_prefix_val", "ann_file_train", "ann_file_val", "ann_file_test")},
    gpus=8,
    zoo=zoo("Kinetics-400", 71.80, 90.17, _ckpt("tsn_r50_256p_1x1x8_100e_kinetics400_rgb", "20200817-883baf16"),
            resolution="short side 256", gpus=8, pretrain="ImageNet", test_protocol="25x3", memory_mb=8343,
            notes="the README row links to tsn_r50_320p_1x1x8_100e_kinetics400_rgb.py and no 256p 1x1x8 file "
                  "exists: this is that recipe on the 256p frames; its real batch is unverified"),
)

tsn_r50_320p_1x1x8_110e_kinetics400_flow = row(
    _flow320, checkpoint_interval=5, gpus=32, batch_size=12, num_segments=8, val_clips=8, lr=0.001875,
    ann_file_train="kinetics400_flow_train_list_320p.txt", ann_file_val="kinetics400_flow_val_list_320p.txt",
    ann_file_test="kinetics400_flow_val_list_320p.txt",
    zoo=zoo("Kinetics-400", 57.76, 80.99, _ckpt("tsn_r50_320p_1x1x8_110e_kinetics400_flow", "20200705-1f39486b"),
            resolution="short side 320", gpus="8x4", pretrain="ImageNet", test_protocol="25x10", memory_mb=8473),
)

tsn_r50_video_320p_1x1x3_100e_kinetics400_rgb = row(
    _video, gpus=8, batch_size=32,
    train_pipeline=train_pipeline("rrc", resize=False), val_pipeline=eval_pipeline(1),
    test_pipeline=eval_pipeline(3),
    zoo=zoo("Kinetics-400", 71.11, 90.04, "tsn_r50_video_320p_1x1x3_100e_kinetics400_rgb/"
            "tsn_r50_video_320p_1x1x3_100e_kinetics400_rgb_20201014-5ae1ee79.pth",
            resolution="short side 320", gpus=8, pretrain="ImageNet", test_protocol="25x3", memory_mb=8343),
)

tsn_r50_dense_1x1x8_100e_kinetics400_rgb = row(
    _rf340, gpus=8, batch_size=12, sampler="dense", dense_sample_range=64, dense_test_positions=10,
    num_segments=8, val_clips=8, test_clips=8, lr=0.005,
    train_pipeline=train_pipeline("msc", num_fixed_crops=13), val_pipeline=eval_pipeline(1),
    test_pipeline=eval_pipeline(1),
    zoo=zoo("Kinetics-400", 70.77, 89.3, _ckpt("tsn_r50_dense_1x1x8_100e_kinetics400_rgb", "20200606-e925e6e3"),
            resolution="340x256", gpus=8, pretrain="ImageNet", test_protocol="dense 8 clips x 10 positions x "
            "CenterCrop 224 (80 views)", memory_mb=8344, inference="12.2 video/s (8x10 frames)",
            reference=(68.75, 88.42)),
)

tsn_r50_video_1x1x8_100e_kinetics400_rgb = row(
    _video, gpus=8, batch_size=32, num_segments=8, val_clips=8,
    train_pipeline=train_pipeline("msc", resize=False), val_pipeline=eval_pipeline(1),
    test_pipeline=eval_pipeline(10),
    zoo=zoo("Kinetics-400", 71.79, 90.25, _ckpt("tsn_r50_video_1x1x8_100e_kinetics400_rgb", "20200702-568cde33"),
            resolution="short side 256", gpus=8, pretrain="ImageNet", test_protocol="25x10", memory_mb=21558),
)

tsn_r50_video_dense_1x1x8_100e_kinetics400_rgb = row(
    _video, gpus=8, batch_size=32, sampler="dense", dense_sample_range=64, dense_test_positions=10,
    num_segments=8, val_clips=8, test_clips=8,
    train_pipeline=train_pipeline("msc", resize=False), val_pipeline=eval_pipeline(1),
    test_pipeline=eval_pipeline(10),
    zoo=zoo("Kinetics-400", 70.40, 89.12, _ckpt("tsn_r50_video_dense_1x1x8_100e_kinetics400_rgb", "20200703-0f19175f"),
            resolution="short side 256", gpus=8, pretrain="ImageNet",
            test_protocol="dense 8 clips x 10 positions x TenCrop 224 (800 views)", memory_mb=21553),
)

# The README's "[1: 1]" rows: raw (pre-softmax) scores of the RGB and the flow model summed 1:1, as
# MMAction2's tools/analysis/report_accuracy.py fuses them (its default coefficients 1 1, no softmax).
TWO_STREAM = {
    "tsn_r50_320p_1x1x3_kinetics400_twostream": dict(
        rgb="tsn_r50_320p_1x1x3_100e_kinetics400_rgb", flow="tsn_r50_320p_1x1x3_110e_kinetics400_flow",
        coefficients=(1, 1), top1=72.76, top5=90.52),
    "tsn_r50_320p_1x1x8_kinetics400_twostream": dict(
        rgb="tsn_r50_320p_1x1x8_100e_kinetics400_rgb", flow="tsn_r50_320p_1x1x8_110e_kinetics400_flow",
        coefficients=(1, 1), top1=74.64, top5=91.77),
}

add_tiny_variants(globals())
