"""ActivityNet v1.3 rows (200 classes), fine-tuned from the Kinetics-400 320p 1x1x8 RGB and flow checkpoints.

Real layout (MMAction2 0.x's ``tools/data/activitynet/README.md``): untrimmed videos extracted to
``data/ActivityNet/rawframes/v_<ytid>/``, with two kinds of list: ``anet_{train,val}_video.txt`` (one line per video,
``v_<ytid> frames label``) and ``anet_{train,val}_clip.txt`` (one line per annotated segment,
``v_<ytid> offset frames label``: ``with_offset``).

The two RGB files disagree on frame names: the video config keeps RawframeDataset's defaults (``img_{:05}.jpg``
from 1), the clip config reads ``image_{:05d}.jpg`` from 0 - which one matches the released frames is
unverified. The flow configs read ``flow_{x,y}_{:05d}.jpg`` from 0.

The video-flow file tests on the *clip* list with offsets while training and validating on the video list;
a config here has one ``with_offset`` for all splits, so ``..._video_flow`` tests on the video list and the
difference is recorded in its ``zoo`` notes.
"""
from ._zoo import CKPT, COMMON, add_tiny_variants, eval_pipeline, row, train_pipeline, zoo

_K400_RGB = "tsn_r50_320p_1x1x8_100e_kinetics400_rgb/tsn_r50_320p_1x1x8_100e_kinetics400_rgb_20200702-ef80e3d7.pth"
_K400_FLOW = "tsn_r50_320p_1x1x8_110e_kinetics400_flow/tsn_r50_320p_1x1x8_110e_kinetics400_flow_20200705-1f39486b.pth"

_anet = dict(COMMON, num_classes=200, source="rawframes", data_root="data/ActivityNet", data_prefix="rawframes",
             num_segments=8, val_clips=8, test_clips=25, dropout=0.8, lr=0.001, eval_interval=5,
             ann_file_train="anet_train_video.txt", ann_file_val="anet_val_video.txt",
             ann_file_test="anet_val_video.txt")
_clips = dict(ann_file_train="anet_train_clip.txt", ann_file_val="anet_val_clip.txt",
              ann_file_test="anet_val_clip.txt", with_offset=True)
_rgb = dict(_anet, filename_tmpl="img_{:05}.jpg", start_index=1, lr_steps=[20, 40], epochs=50,
            train_pipeline=train_pipeline("rrc"), val_pipeline=eval_pipeline(1, 256),
            test_pipeline=eval_pipeline(3),
            # https://download.openmmlab.com/mmaction/recognition/tsn/ + _K400_RGB
            load_from="checkpoints/tsn_r50_320p_1x1x8_100e_kinetics400_rgb_20200702-ef80e3d7.pth")
_flow = dict(_anet, source="flow", modality="flow", clip_len=5, filename_tmpl="flow_{}_{:05d}.jpg", start_index=0,
             flow_init="random", lr_steps=[60, 120], epochs=150,
             train_pipeline=train_pipeline("rrc", flow=True), val_pipeline=eval_pipeline(1, flow=True),
             test_pipeline=eval_pipeline(10, flow=True),
             # https://download.openmmlab.com/mmaction/recognition/tsn/ + _K400_FLOW
             load_from="checkpoints/tsn_r50_320p_1x1x8_110e_kinetics400_flow_20200705-1f39486b.pth")


def _facts(name, stamp, top1, top5, resolution, gpus, protocol, memory, init, **notes):
    return zoo("ActivityNet v1.3", top1, top5, f"{name}/{name}_{stamp}.pth", resolution=resolution, gpus=gpus,
               pretrain="Kinetics400", test_protocol=protocol, memory_mb=memory, load_from_url=CKPT + init, **notes)


tsn_r50_320p_1x1x8_50e_activitynet_video_rgb = row(
    _rgb, gpus=8, batch_size=8,
    zoo=_facts("tsn_r50_320p_1x1x8_50e_activitynet_video_rgb", "20210301-7f8da0c6", 73.93, 93.44, "short side 320",
               "8x1", "25x3", 5692, _K400_RGB),
)

tsn_r50_320p_1x1x8_50e_activitynet_clip_rgb = row(
    _rgb, gpus=8, batch_size=8, filename_tmpl="image_{:05d}.jpg", start_index=0, **_clips,
    zoo=_facts("tsn_r50_320p_1x1x8_50e_activitynet_clip_rgb", "20210301-c0f04a7e", 76.90, 94.47, "short side 320",
               "8x1", "25x3", 5692, _K400_RGB),
)

tsn_r50_320p_1x1x8_150e_activitynet_video_flow = row(
    _flow, checkpoint_interval=5, gpus=16, batch_size=8,
    zoo=_facts("tsn_r50_320p_1x1x8_150e_activitynet_video_flow", "20200804-13313f52", 57.51, 83.02, "340x256",
               "8x2", "25x10", 5780, _K400_FLOW,
               notes="MMAction2's file tests on anet_val_clip.txt with with_offset=True (trains/validates on the "
                     "video lists); the README calls its resolution 340x256"),
)

tsn_r50_320p_1x1x8_150e_activitynet_clip_flow = row(
    _flow, checkpoint_interval=5, gpus=16, batch_size=8, **_clips,
    zoo=_facts("tsn_r50_320p_1x1x8_150e_activitynet_clip_flow", "20200804-8622cf38", 59.51, 82.69, "340x256",
               "8x2", "25x10", 5780, _K400_FLOW),
)

add_tiny_variants(globals())
