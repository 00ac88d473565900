"""Something-Something V1 and V2 rows: 174 classes of object interactions, RGB frames, ResNet-50 from ImageNet.

Real layout (MMAction2 0.x's ``tools/data/sthv1/README.md`` and ``tools/data/sthv2/README.md``): V1 ships frames
``data/sthv1/rawframes/<id>/00001.jpg`` (height 100, ``filename_tmpl='{:05}.jpg'``); V2 frames are extracted to
``data/sthv2/rawframes/<id>/img_00001.jpg`` (height 256). Lists ``sthv{1,2}_{train,val}_list_rawframes.txt``.

Left and right matter in these datasets, so the 1x1x8 rows train without Flip. The sthv1 1x1x16 file does flip,
without a label map, trains on 16 segments and validates / tests on 8 (a defect of MMAction2's
``tsn_r50_1x1x16_50e_sthv1_rgb.py``, copied here). V1 rows use SyncBN with norm_eval=True (frozen BN statistics).
"""
from ._zoo import COMMON, add_tiny_variants, eval_pipeline, row, train_pipeline, zoo

_sth = dict(COMMON, num_classes=174, source="rawframes", data_prefix="rawframes", start_index=1,
            dropout=0.5, lr_steps=[20, 40], epochs=50, eval_interval=5)
_sthv1 = dict(_sth, data_root="data/sthv1", filename_tmpl="{:05}.jpg", sync_bn=True, norm_eval=True,
              weight_decay=5e-4, grad_clip=20.0,
              ann_file_train="sthv1_train_list_rawframes.txt", ann_file_val="sthv1_val_list_rawframes.txt",
              ann_file_test="sthv1_val_list_rawframes.txt")
_sthv2 = dict(_sth, data_root="data/sthv2", filename_tmpl="img_{:05}.jpg",
              ann_file_train="sthv2_train_list_rawframes.txt", ann_file_val="sthv2_val_list_rawframes.txt",
              ann_file_test="sthv2_val_list_rawframes.txt")
_TSM = "https://github.com/mit-han-lab/temporal-shift-module/tree/8d53d6fda40bea2f1b37a6095279c4b454d672bd#training"


def _ckpt(name, stamp):
    return f"{name}/{name}_{stamp}.pth"


tsn_r50_1x1x8_50e_sthv1_rgb = row(
    _sthv1, checkpoint_interval=5, gpus=8, batch_size=16, num_segments=8, val_clips=8, test_clips=8, lr=0.02,
    train_pipeline=train_pipeline("msc", num_fixed_crops=13, flip=False), val_pipeline=eval_pipeline(1),
    test_pipeline=eval_pipeline(10),
    zoo=zoo("Something-Something V1", 18.55, 44.80, _ckpt("tsn_r50_1x1x8_50e_sthv1_rgb", "20200618-061b9195"),
            resolution="height 100", gpus=8, pretrain="ImageNet", test_protocol="8x10", memory_mb=10978,
            reference=(17.53, 44.29), reference_code=_TSM),
)

tsn_r50_1x1x16_50e_sthv1_rgb = row(
    _sthv1, gpus=8, batch_size=4, num_segments=16, val_clips=8, test_clips=8, lr=0.01, init_std=0.001,
    eval_interval=2,
    train_pipeline=train_pipeline("msc", num_fixed_crops=13), val_pipeline=eval_pipeline(1),
    test_pipeline=eval_pipeline(1),
    zoo=zoo("Something-Something V1", 15.77, 39.85, _ckpt("tsn_r50_1x1x16_50e_sthv1_rgb", "20200614-7e2fe4f1"),
            resolution="height 100", gpus=8, pretrain="ImageNet", test_protocol="8x1 (CenterCrop 224)",
            memory_mb=5691, reference=(13.33, 35.58), reference_code=_TSM,
            notes="trains on 16 segments with an unmapped Flip, validates and tests on 8"),
)

tsn_r50_1x1x8_50e_sthv2_rgb = row(
    _sthv2, checkpoint_interval=5, gpus=8, batch_size=16, num_segments=8, val_clips=8, test_clips=8, lr=0.02,
    train_pipeline=train_pipeline("msc", flip=False), val_pipeline=eval_pipeline(1),
    test_pipeline=eval_pipeline(3),
    zoo=zoo("Something-Something V2", 32.97, 63.62, _ckpt("tsn_r50_1x1x8_50e_sthv2_rgb", "20200915-f3b381a5"),
            resolution="height 240", gpus=8, pretrain="ImageNet", test_protocol="8x3", memory_mb=10966,
            reference=(30.56, 58.49), reference_code=_TSM,
            notes="the README's resolution is the videos' (height 240); the 0.x file reads frames extracted at "
                  "height 256"),
)

tsn_r50_1x1x16_50e_sthv2_rgb = row(
    _sthv2, gpus=8, batch_size=4, num_segments=16, val_clips=16, test_clips=16, lr=0.005, weight_decay=5e-4,
    grad_clip=20.0, init_std=0.001, eval_interval=2,
    train_pipeline=train_pipeline("msc", flip=False), val_pipeline=eval_pipeline(1),
    test_pipeline=eval_pipeline(3),
    zoo=zoo("Something-Something V2", 27.21, 55.84, _ckpt("tsn_r50_1x1x16_50e_sthv2_rgb", "20200917-80bc3611"),
            resolution="height 240", gpus=8, pretrain="ImageNet", test_protocol="16x3", memory_mb=8337,
            reference=(21.91, 46.87), reference_code=_TSM,
            notes="the README's resolution is the videos' (height 240); the 0.x file reads frames extracted at "
                  "height 256"),
)

add_tiny_variants(globals())
