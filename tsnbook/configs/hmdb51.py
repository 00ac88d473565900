"""The three HMDB51 rows (split 1): one recipe, three initialisations (ImageNet, Kinetics-400, Moments in Time).

Real layout (MMAction2 0.x's ``tools/data/hmdb51/README.md``): ``data/hmdb51/rawframes/<class>/<video>/img_00001.jpg``
and ``hmdb51_{train,val}_split_{1,2,3}_rawframes.txt``.
"""
from ._zoo import COMMON, add_tiny_variants, eval_pipeline, row, train_pipeline, zoo

_hmdb51 = dict(
    COMMON, num_classes=51, data_root="data/hmdb51", data_prefix="rawframes",
    ann_file_train="hmdb51_train_split_1_rawframes.txt", ann_file_val="hmdb51_val_split_1_rawframes.txt",
    ann_file_test="hmdb51_val_split_1_rawframes.txt", filename_tmpl="img_{:05}.jpg", start_index=1,
    num_segments=8, val_clips=8, test_clips=8,
    train_pipeline=train_pipeline("rrc"), val_pipeline=eval_pipeline(1, 256), test_pipeline=eval_pipeline(1, 256),
    lr=0.025, lr_steps=[20, 40], epochs=50, eval_interval=1,
)
_HMDB = "tsn_r50_1x1x8_50e_hmdb51_{0}_rgb/tsn_r50_1x1x8_50e_hmdb51_{0}_rgb_{1}.pth"

tsn_r50_1x1x8_50e_hmdb51_imagenet_rgb = row(
    _hmdb51, checkpoint_interval=5, gpus=8, batch_size=32,
    zoo=zoo("HMDB51", 48.95, 80.19, _HMDB.format("imagenet", "20201123-ce6c27ed"), gpus=8, pretrain="ImageNet",
            test_protocol="8x1 (CenterCrop 256)", memory_mb=21535, notes="split 1"),
)

tsn_r50_1x1x8_50e_hmdb51_kinetics400_rgb = row(
    _hmdb51, checkpoint_interval=5, gpus=8, batch_size=32,
    # https://download.openmmlab.com/mmaction/recognition/tsn/tsn_r50_256p_1x1x8_100e_kinetics400_rgb/
    #   tsn_r50_256p_1x1x8_100e_kinetics400_rgb_20200817-883baf16.pth (the K400 256p 1x1x8 row); its 400-way
    #   classifier is dropped when loading.
    load_from="checkpoints/tsn_r50_256p_1x1x8_100e_kinetics400_rgb_20200817-883baf16.pth",
    zoo=zoo("HMDB51", 56.08, 84.31, _HMDB.format("kinetics400", "20201123-7f84701b"), gpus=8,
            pretrain="Kinetics400", test_protocol="8x1 (CenterCrop 256)", memory_mb=21535,
            load_from_url="https://download.openmmlab.com/mmaction/recognition/tsn/tsn_r50_256p_1x1x8_100e_"
                          "kinetics400_rgb/tsn_r50_256p_1x1x8_100e_kinetics400_rgb_20200817-883baf16.pth"),
)

tsn_r50_1x1x8_50e_hmdb51_mit_rgb = row(
    _hmdb51, checkpoint_interval=5, gpus=8, batch_size=1, num_workers=1,
    # https://download.openmmlab.com/mmaction/recognition/tsn/tsn_r50_1x1x6_100e_mit_rgb/
    #   tsn_r50_1x1x6_100e_mit_rgb_20200618-d512ab1b.pth (the MiT row)
    load_from="checkpoints/tsn_r50_1x1x6_100e_mit_rgb_20200618-d512ab1b.pth",
    zoo=zoo("HMDB51", 54.25, 83.86, _HMDB.format("mit", "20201123-01526d41"), gpus=8, pretrain="Moments",
            test_protocol="8x1 (CenterCrop 256)", memory_mb=21535,
            load_from_url="https://download.openmmlab.com/mmaction/recognition/tsn/tsn_r50_1x1x6_100e_mit_rgb/"
                          "tsn_r50_1x1x6_100e_mit_rgb_20200618-d512ab1b.pth",
            notes="config defect reproduced: the file has no videos_per_gpu, so MMAction2 falls back to 1 video "
                  "per GPU and 1 worker"),
)

add_tiny_variants(globals())
