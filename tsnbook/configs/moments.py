"""Moments in Time (339 classes) and Multi-Moments in Time (313 classes, multi-label) rows: whole videos.

Real layout (MMAction2 0.x's ``tools/data/mit/README.md`` and ``tools/data/mmit/README.md``):
``data/mit/videos/{training,validation}/<class>/<file>.mp4`` with ``mit_{train,val}_list_videos.txt``;
``data/mmit/videos/<class>/<file>.mp4`` with ``mmit_{train,val}_list_videos.txt`` (``path l1 l2 ...``).

Config defects of MMAction2's files, documented and *not* copied: the MiT file's FormatShape has no
input_format and its test pipeline starts with DecordDecode, so it does not run as shipped; MiT's
``data_root_val='/data/mit/videos/validation/'`` and MMiT's ``'/data/mmit/videos'`` are absolute (stray ``/``).
"""
from ._zoo import COMMON, add_tiny_variants, eval_pipeline, row, train_pipeline, zoo

tsn_r50_1x1x6_100e_mit_rgb = row(
    COMMON, checkpoint_interval=5, gpus=16, batch_size=16, num_classes=339, source="video", data_root="data/mit",
    data_prefix="videos/training", data_prefix_val="videos/validation",
    ann_file_train="mit_train_list_videos.txt", ann_file_val="mit_val_list_videos.txt",
    ann_file_test="mit_val_list_videos.txt", num_segments=6, val_clips=6, test_clips=6,
    train_pipeline=train_pipeline("msc", scales=(1, 0.8), max_wh_scale_gap=0),
    val_pipeline=eval_pipeline(1), test_pipeline=eval_pipeline(3),
    lr=0.005, lr_steps=[40, 80], epochs=100, eval_interval=1,  # no evaluation dict: EvalHook's default 1
    zoo=zoo("Moments in Time", 26.84, 51.6,
            "tsn_r50_1x1x6_100e_mit_rgb/tsn_r50_1x1x6_100e_mit_rgb_20200618-d512ab1b.pth",
            resolution="short side 256", gpus="8x2", pretrain="ImageNet", test_protocol="6x3", memory_mb=8339,
            notes="MMAction2's file does not run as shipped: FormatShape lacks input_format (TypeError) and the "
                  "test pipeline starts with DecordDecode instead of DecordInit; data_root_val is the absolute "
                  "'/data/mit/videos/validation/'. This config uses the evident intent (NCHW, DecordInit, "
                  "data/mit/videos/validation)."),
)

tsn_r101_1x1x5_50e_mmit_rgb = row(
    COMMON, checkpoint_interval=5, gpus=16, batch_size=16, num_classes=313, source="video", data_root="data/mmit",
    data_prefix="videos",
    ann_file_train="mmit_train_list_videos.txt", ann_file_val="mmit_val_list_videos.txt",
    ann_file_test="mmit_val_list_videos.txt", num_segments=5, val_clips=5, test_clips=5,
    multi_label=True, loss_weight=160.0, eval_metrics=["mmit_mean_average_precision"], fc_lr5=True,
    train_pipeline=train_pipeline("msc"), val_pipeline=eval_pipeline(1), test_pipeline=eval_pipeline(1, 256),
    backbone="resnet101", dropout=0.5, lr=0.01, grad_clip=20.0, lr_steps=[20, 40], epochs=50, eval_interval=5,
    zoo=zoo("Multi-Moments in Time", None, None,
            "tsn_r101_1x1x5_50e_mmit_rgb/tsn_r101_1x1x5_50e_mmit_rgb_20200618-642f450d.pth", mAP=61.09,
            resolution="short side 256", gpus="8x2", pretrain="ImageNet", test_protocol="5x1 (CenterCrop 256)",
            memory_mb=10467, notes="BCE-with-logits x160; TSMOptimizerConstructor fc_lr5; data_root_val is "
                                   "the absolute '/data/mmit/videos' in MMAction2's file"),
)

add_tiny_variants(globals())
