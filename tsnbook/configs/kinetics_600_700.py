"""Kinetics-600 and Kinetics-700 rows: whole videos (short side 256), 8 segments, ResNet-50 from ImageNet.

Real layout (MMAction2 0.x's ``tools/data/kinetics/README.md``):
``data/kinetics{600,700}/videos_{train,val}/<class>/<ytid>_<start>_<end>.mp4`` and
``kinetics{600,700}_{train,val}_list_videos.txt``.
"""
from ._zoo import COMMON, add_tiny_variants, eval_pipeline, row, train_pipeline, zoo


def _kinetics(classes, top1, top5, stamp):
    name = f"tsn_r50_video_1x1x8_100e_kinetics{classes}_rgb"
    return row(
        COMMON, checkpoint_interval=5, gpus=16, batch_size=12, num_classes=classes, source="video",
        data_root=f"data/kinetics{classes}",
        data_prefix="videos_train", data_prefix_val="videos_val",
        ann_file_train=f"kinetics{classes}_train_list_videos.txt",
        ann_file_val=f"kinetics{classes}_val_list_videos.txt",
        ann_file_test=f"kinetics{classes}_val_list_videos.txt",
        num_segments=8, val_clips=8, test_clips=25,
        train_pipeline=train_pipeline("rrc", resize=False), val_pipeline=eval_pipeline(1, 256),
        test_pipeline=eval_pipeline(3), lr=0.00375, lr_steps=[40, 80], epochs=100, eval_interval=5,
        zoo=zoo(f"Kinetics-{classes}", top1, top5, f"{name}/{name}_{stamp}.pth", resolution="short side 256",
                gpus="8x2", pretrain="ImageNet", test_protocol="25x3", memory_mb=8344,
                inference="11.1 video/s (25x3 frames)"))


tsn_r50_video_1x1x8_100e_kinetics600_rgb = _kinetics(600, 74.8, 92.3, "20201015-4db3c461")
tsn_r50_video_1x1x8_100e_kinetics700_rgb = _kinetics(700, 61.7, 83.6, "20201015-e381a6c7")

add_tiny_variants(globals())
