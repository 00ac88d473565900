"""The UCF101 row of the TSN zoo (split 1): RGB frame folders, ResNet-50 fine-tuned from ImageNet.

Real layout (MMAction2 0.x's ``tools/data/ucf101/README.md``): ``data/ucf101/rawframes/<Class>/<video>/img_00001.jpg``
and ``ucf101_{train,val}_split_{1,2,3}_rawframes.txt`` (``dir total_frames label``, 0-based labels).
"""
from ._zoo import COMMON, add_tiny_variants, eval_pipeline, row, train_pipeline, zoo

tsn_r50_1x1x3_75e_ucf101_rgb = row(
    COMMON, checkpoint_interval=5, gpus=8, batch_size=32, num_classes=101,
    data_root="data/ucf101", data_prefix="rawframes",
    ann_file_train="ucf101_train_split_1_rawframes.txt", ann_file_val="ucf101_val_split_1_rawframes.txt",
    ann_file_test="ucf101_val_split_1_rawframes.txt", filename_tmpl="img_{:05}.jpg", start_index=1,
    num_segments=3, val_clips=3, test_clips=25,
    train_pipeline=train_pipeline("rrc"), val_pipeline=eval_pipeline(1, 256), test_pipeline=eval_pipeline(3),
    lr=0.00128, weight_decay=5e-4, lr_steps=[], epochs=75, init_std=0.001, eval_interval=5,
    zoo=zoo("UCF101", 83.03, 96.78, "tsn_r50_1x1x3_75e_ucf101_rgb/tsn_r50_1x1x3_75e_ucf101_rgb_20201023-d85ab600.pth",
            resolution=None, gpus=8, pretrain="ImageNet", test_protocol="25x3", memory_mb=8332,
            notes="split 1; constant lr (lr_config step=[]), weight decay 5e-4, head init_std 0.001"),
)

add_tiny_variants(globals())
