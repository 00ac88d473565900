"""SynthActions configs: the demo's two streams, named like model-zoo rows, sized for a 2-core CPU.

The recipe is the zoo's TSN recipe scaled down: 3 segments, MultiScaleCrop + Flip for training, centre crops
for validation, many clips x ThreeCrop for testing, SGD with momentum 0.9, weight decay 1e-4, gradient clipping
at 40, a step schedule. What differs, and why: a ResNet-18 from scratch (no ImageNet weights offline), frames
resized to a short side of 48 and 40x40 crops (the zoo: 256 and 224), so that both streams train in about two
minutes on a laptop CPU. Flip needs a label map here, because a mirrored MoveLeft *is* MoveRight.
"""
#: A horizontal flip turns MoveLeft (class 4) into MoveRight (class 5) and back: the label map Flip needs, as
#: MMAction2's Something-Something configs have one for their left/right classes. (The classes are
#: `tsnbook.course.synth.CLASSES`; a test checks the two agree.)
FLIP_LABEL_MAP = {4: 5, 5: 4}

_common = dict(
    data_root="data/synthactions", num_classes=8, num_segments=3, frame_interval=1,
    ann_file_train="synthactions_train_split_1_videos.txt", ann_file_val="synthactions_val_split_1_videos.txt",
    ann_file_test="synthactions_val_split_1_videos.txt", label_map="classInd.txt",  # UCF101-style "1 RedBall"
    val_clips=3, test_clips=10,
    train_pipeline=[
        dict(type="Resize", scale=(-1, 48)),
        dict(type="MultiScaleCrop", input_size=40, scales=(1, 0.875, 0.75, 0.66)),
        dict(type="Resize", scale=(40, 40), keep_ratio=False),
        dict(type="Flip", flip_ratio=0.5, flip_label_map=FLIP_LABEL_MAP),
    ],
    val_pipeline=[dict(type="Resize", scale=(-1, 48)), dict(type="CenterCrop", crop_size=40)],
    test_pipeline=[dict(type="Resize", scale=(-1, 48)), dict(type="ThreeCrop", crop_size=48)],
    backbone="resnet18", pretrained=None, dropout=0.4, init_std=0.01, partial_bn=False, norm_eval=False,
    epochs=12, batch_size=16, lr=0.01, momentum=0.9, weight_decay=1e-4, lr_steps=[8, 11], lr_gamma=0.1,
    grad_clip=40.0, num_workers=0, eval_interval=4, average_clips=None, seed=0, decoder=None,
    checkpoint_interval=0,  # latest.pth and best.pth only (12 small epochs)
)

tsn_r18_1x1x3_12e_synthactions_rgb = dict(
    _common, modality="rgb", source="video", data_prefix="videos", clip_len=1,
    train_pipeline=_common["train_pipeline"] + [dict(type="FormatShape", input_format="NCHW")],
    val_pipeline=_common["val_pipeline"] + [dict(type="FormatShape", input_format="NCHW")],
    test_pipeline=_common["test_pipeline"] + [dict(type="FormatShape", input_format="NCHW")],
)

tsn_r18_1x1x3_12e_synthactions_flow = dict(
    _common, modality="flow", source="flow", data_prefix="rawframes", clip_len=5, lr=0.005,
    filename_tmpl="flow_{}_{:05d}.jpg", start_index=1, flow_init="average",
    ann_file_train="synthactions_train_split_1_flow.txt", ann_file_val="synthactions_val_split_1_flow.txt",
    ann_file_test="synthactions_val_split_1_flow.txt",
    train_pipeline=_common["train_pipeline"] + [dict(type="FormatShape", input_format="NCHW_Flow")],
    val_pipeline=_common["val_pipeline"] + [dict(type="FormatShape", input_format="NCHW_Flow")],
    test_pipeline=_common["test_pipeline"] + [dict(type="FormatShape", input_format="NCHW_Flow")],
)
