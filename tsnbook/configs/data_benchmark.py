"""The Kinetics-400 data benchmark: 3 frame resolutions x 2 training crops, each tested two ways.

Rows compare (1) frames extracted at 340x256, short side 320 or short side 256, (2) MultiScaleCrop vs
RandomResizedCrop for training and (3) 25 clips x 10 crops (TenCrop 224) vs 25 x 3 (ThreeCrop 256) testing.
Each named row is a config; its unnamed "x" twin (the other test protocol, MMAction2's
``data_benchmark/tsn_r50_test_*`` files) is in ``zoo["test_protocols"]``. Three rows share checkpoints with
`tsn_r50_1x1x3_100e_kinetics400_rgb` (340x256 MSC), its 256p row (256p MSC) and
`tsn_r50_320p_1x1x3_100e_kinetics400_rgb` (320p RRC).

The table labels every named row "25x10 frames", but the RandomResizedCrop 320p and 256p files test with 25 x
ThreeCrop 256 (their pipelines are copied here as the files have them); the README's figures are in ``zoo``.
"""
from ._zoo import add_tiny_variants, eval_pipeline, row, train_pipeline, zoo
from .kinetics400 import _rf256, _rf320, _rf340

_BENCH = "data_benchmark/{0}/{0}_{1}.pth"


def _bench(frames, crop, resolution, top1, top5, twin, checkpoint):
    rrc_small = crop == "rrc" and frames is not _rf340  # the 320p / 256p RandomResizedCrop files
    return row(frames, checkpoint_interval=5, gpus=8, batch_size=32, train_pipeline=train_pipeline(crop),
               val_pipeline=eval_pipeline(1, 256 if rrc_small else 224),
               test_pipeline=eval_pipeline(3 if rrc_small else 10),
               zoo=zoo("Kinetics-400", top1, top5, checkpoint, resolution=resolution, gpus=8, pretrain="ImageNet",
                       train_aug={"msc": "MultiScaleCrop", "rrc": "RandomResizedCrop"}[crop],
                       test_protocol="25x10", test_protocols={"25x10": (top1, top5), "25x3": twin}))


tsn_r50_multiscalecrop_340x256_1x1x3_100e_kinetics400_rgb = _bench(
    _rf340, "msc", "340x256", 70.60, 89.26, (70.52, 89.39),
    "tsn_r50_1x1x3_100e_kinetics400_rgb/tsn_r50_1x1x3_100e_kinetics400_rgb_20200614-e508be42.pth")
tsn_r50_randomresizedcrop_340x256_1x1x3_100e_kinetics400_rgb = _bench(
    _rf340, "rrc", "340x256", 70.11, 89.01, (69.95, 89.02),
    _BENCH.format("tsn_r50_randomresizedcrop_340x256_1x1x3_100e_kinetics400_rgb", "20200725-88cb325a"))
tsn_r50_multiscalecrop_320p_1x1x3_100e_kinetics400_rgb = _bench(
    _rf320, "msc", "short side 320", 70.32, 89.25, (70.54, 89.39),
    _BENCH.format("tsn_r50_multiscalecrop_320p_1x1x3_100e_kinetics400_rgb", "20200725-9922802f"))
tsn_r50_randomresizedcrop_320p_1x1x3_100e_kinetics400_rgb = _bench(
    _rf320, "rrc", "short side 320", 70.44, 89.23, (70.91, 89.51),
    "tsn_r50_320p_1x1x3_100e_kinetics400_rgb/tsn_r50_320p_1x1x3_100e_kinetics400_rgb_20200702-cc665e2a.pth")
tsn_r50_multiscalecrop_256p_1x1x3_100e_kinetics400_rgb = _bench(
    _rf256, "msc", "short side 256", 70.42, 89.03, (70.79, 89.42),
    "tsn_r50_256p_1x1x3_100e_kinetics400_rgb/tsn_r50_256p_1x1x3_100e_kinetics400_rgb_20200725-22592236.pth")
tsn_r50_randomresizedcrop_256p_1x1x3_100e_kinetics400_rgb = _bench(
    _rf256, "rrc", "short side 256", 69.80, 89.06, (70.48, 89.89),
    "tsn_r50_256p_randomresize_1x1x3_100e_kinetics400_rgb/"
    "tsn_r50_256p_randomresize_1x1x3_100e_kinetics400_rgb_20200817-ae7963ca.pth")

add_tiny_variants(globals())
