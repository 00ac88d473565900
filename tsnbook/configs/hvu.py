"""HVU rows: one multi-label ResNet-18 TSN per tag category (action, scene, object, event, concept, attribute).

Real layout (MMAction2 0.x's ``tools/data/hvu/README.md``): ``data/hvu/videos_{train,val}/<ytid>_<start>_<end>.mp4`` and
per-category JSON lists ``hvu_<category>_{train,val}.json`` (``[{"filename": ..., "label": [indices]}]``), which
`tsnbook.data.load_annotations` reads as MMAction2 0.x does (items without a tag of the category are skipped and
counted). Loss: BCE-with-logits x 333; metric: mean average precision.

The README's last HVU row ("all tags", mAP 52.6, HATNet 40.0 / HATNet-multi 41.3) has no config; it is in the
``zoo`` dict of the action row. HATNet numbers come from the HVU paper.
"""
from ._zoo import COMMON, add_tiny_variants, eval_pipeline, row, train_pipeline, zoo

_hvu = dict(COMMON, source="video", data_root="data/hvu", data_prefix="videos_train", data_prefix_val="videos_val",
            num_segments=8, val_clips=8, test_clips=25, backbone="resnet18", multi_label=True, loss_weight=333.0,
            eval_metrics=["mean_average_precision"], lr=0.01, lr_steps=[40, 80], epochs=100, eval_interval=2,
            train_pipeline=train_pipeline("rrc"), val_pipeline=eval_pipeline(1, 256),
            test_pipeline=eval_pipeline(3))


def _hvu_row(category, classes, gpus, mAP, hatnet, hatnet_multi, stamp, **extra):
    name = f"tsn_r18_1x1x8_100e_hvu_{category}_rgb"
    return row(_hvu, gpus=gpus, batch_size=32, num_classes=classes,
               ann_file_train=f"hvu_{category}_train.json", ann_file_val=f"hvu_{category}_val.json",
               ann_file_test=f"hvu_{category}_val.json",
               zoo=zoo("HVU", None, None, f"hvu/{category}/{name}_{stamp}.pth", mAP=mAP, tag_category=category,
                       resolution="short side 256", gpus="8x2" if gpus == 16 else gpus, pretrain="ImageNet",
                       test_protocol="25x3", hatnet=hatnet, hatnet_multi=hatnet_multi, **extra))


tsn_r18_1x1x8_100e_hvu_action_rgb = _hvu_row("action", 739, 16, 57.5, 51.8, 53.5, "20201027-011b282b",
                                             all_tags=dict(mAP=52.6, hatnet=40.0, hatnet_multi=41.3))
tsn_r18_1x1x8_100e_hvu_scene_rgb = _hvu_row("scene", 248, 8, 55.2, 55.8, 57.2, "20201027-00e5748d")
tsn_r18_1x1x8_100e_hvu_object_rgb = _hvu_row("object", 1678, 8, 45.7, 34.2, 35.1, "20201102-24a22f30")
tsn_r18_1x1x8_100e_hvu_event_rgb = _hvu_row("event", 69, 8, 63.7, 38.5, 39.8, "20201027-dea8cd71")
tsn_r18_1x1x8_100e_hvu_concept_rgb = _hvu_row("concept", 291, 8, 47.5, 26.1, 27.3, "20201027-fc1dd8e3")
tsn_r18_1x1x8_100e_hvu_attribute_rgb = _hvu_row("attribute", 117, 8, 46.1, 33.6, 34.9, "20201027-0b3b49d2")

add_tiny_variants(globals())
