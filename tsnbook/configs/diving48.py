"""Diving48 (V2 annotations) rows: whole .mp4 videos decoded on the fly, ResNet-50 from ImageNet.

Real layout (MMAction2 0.x's ``tools/data/diving48/README.md``): ``data/diving48/videos/<vid_name>.mp4`` (flat) and
``diving48_{train,val}_list_videos.txt`` (``-mmq0PT-u8k_00155.mp4 0``; val = the V2 test set).
"""
from ._zoo import COMMON, add_tiny_variants, eval_pipeline, row, train_pipeline, zoo

_diving48 = dict(
    COMMON, num_classes=48, source="video", data_root="data/diving48", data_prefix="videos",
    ann_file_train="diving48_train_list_videos.txt", ann_file_val="diving48_val_list_videos.txt",
    ann_file_test="diving48_val_list_videos.txt",
    train_pipeline=train_pipeline("msc"), val_pipeline=eval_pipeline(1), test_pipeline=eval_pipeline(1),
    lr_steps=[40, 80], epochs=100, eval_interval=5,
)
_DIVING = "tsn_r50_video_1x1x{0}_100e_diving48_rgb/tsn_r50_video_1x1x{0}_100e_diving48_rgb_{1}.pth"

tsn_r50_video_1x1x8_100e_diving48_rgb = row(
    _diving48, gpus=8, batch_size=8, num_segments=8, val_clips=8, test_clips=8, lr=0.0025,
    zoo=zoo("Diving48", 71.27, 95.74, _DIVING.format(8, "20210426-6dde0185"), gpus=8, pretrain="ImageNet",
            test_protocol="8x1 (CenterCrop 224)", memory_mb=5699),
)

tsn_r50_video_1x1x16_100e_diving48_rgb = row(
    _diving48, gpus=8, batch_size=4, num_segments=16, val_clips=16, test_clips=16, lr=0.00125,
    zoo=zoo("Diving48", 76.75, 96.95, _DIVING.format(16, "20210426-63c5f2f7"), gpus=8, pretrain="ImageNet",
            test_protocol="16x1 (CenterCrop 224)", memory_mb=5705),
)

add_tiny_variants(globals())
