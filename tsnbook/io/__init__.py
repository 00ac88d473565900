"""Decoding for tsnbook: videos (decord or PyAV) and frame folders (OpenCV) behind one small interface.

Mirrors MMAction2's loading transforms (``mmaction/datasets/pipelines/loading.py``): `DecordInit`/`DecordDecode`
('accurate', `num_threads=1`), `PyAVInit`/`PyAVDecode` ('accurate': sequential) and `RawFrameDecode` (cv2; RGB and
flow).

    with open_video("clip.mp4") as video:       # or RawFrames(...) / FlowFrames(...)
        frames = video.get([0, 10, 10, 5])      # uint8 [T, H, W, 3] RGB, in the order asked for

Where tsnbook is stricter than MMAction2, and why (decord's failure modes, as reported on dmlc/decord's issues):
- `num_frames` is checked (`probe_video`), never taken from decord on trust: asking decord for frames past the
  real end can spin forever in native code (decord issue #373).
- decord runs with a `fault_tol` so strict that one silently duplicated frame is an error. Any decord error
  sends that file to PyAV, once, with a `DecoderFallbackWarning`; CI can make these fatal with
  `warnings.simplefilter("error", DecoderFallbackWarning)`.
- Files whose frames decord misplaces without any error (`decord_misplaces_frames`: MPEG program and transport
  streams, B-frames outside H.264 - UCF101's and HMDB51's XviD/DivX AVIs among them -, H.264 in AVI, and codecs
  not measured; decord #365, #195, #252) go to PyAV, decided from the container, codec and B-frames the probe
  reads anyway, with one `DecoderChoiceWarning` a kind of file (a rule, not a failure: the CI filter above lets
  it pass). MMAction2's `DecordDecode` returns those wrong frames.
- Phone videos store sideways frames and a display matrix that turns them upright: every reader returns them
  turned (decord does it itself, PyAV's frames go through `upright`), so a file gives the same frames whichever
  decoder reads it. MMAction2's DecordInit turns them too; its PyAVDecode does not.
- A reader refuses to work in another process than the one that opened it: a decord reader copied by `fork()`
  hangs in the child (reproduced here). Open videos inside the worker, e.g. in `Dataset.__getitem__`.

The package, one file a job: `videos` (probing, decord / PyAV readers, `open_video`), `frames` (RGB and flow
JPEG folders), `selective` (H.264 decoding only what is needed) and `encode` (`write_video`).
"""
from .encode import CODECS, write_video, x264_refuses
from .frames import FlowFrames, RawFrames
from .selective import SelectiveVideo, open_selective
from .videos import (BACKENDS, DECORD_CODECS, DECORD_CONTAINERS, DECORD_FAULT_TOL, IMAGE_EXTENSIONS,
                     VIDEO_EXTENSIONS, DecodeError, DecoderChoiceWarning, DecoderFallbackWarning, DecordVideo,
                     PyAVVideo, Video, count_frames, decord_available, decord_misplaces_frames, frame_to_rgb,
                     open_video, probe_video, upright)

__all__ = ["BACKENDS", "CODECS", "DECORD_CODECS", "DECORD_CONTAINERS", "DECORD_FAULT_TOL", "DecodeError",
           "DecoderChoiceWarning", "DecoderFallbackWarning",
           "DecordVideo", "FlowFrames", "IMAGE_EXTENSIONS", "PyAVVideo", "RawFrames", "SelectiveVideo", "Video",
           "count_frames", "decord_available", "decord_misplaces_frames", "frame_to_rgb", "open_selective",
           "open_video", "probe_video", "upright", "VIDEO_EXTENSIONS", "write_video", "x264_refuses"]
