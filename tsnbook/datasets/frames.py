"""RGB frames and optical flow for a whole dataset: one folder per video, resumable, multiprocess.

This is `tsnbook.flow.extract_video_frames` (streaming, denseflow's resizing, any template and index base) run
over a dataset's videos in processes (`shards.Work`: on one machine, or one shard's share of the videos): a
video whose folder is already complete (`flow.is_extracted`) is skipped and counted as "skipped (done)", a video
that is cut short is not extracted at all (its frames would be a partial folder that a list would trust;
`verify.check_video` says why), and a video that fails is a problem in the report, never the end of the run.
"""
import os

from .. import flow
from .verify import check_video

TASKS = ("rgb", "flow", "both", "none")


def frame_settings(task="rgb", rgb_tmpl=flow.RGB_TEMPLATE, flow_tmpl=flow.FLOW_TEMPLATES["flow"], start_index=1,
                   resolution="original", algorithm=flow.FAST_ALGORITHM, bound=20.0):
    """The keyword arguments of `flow.extract_video_frames` for a task: "rgb", "flow", "both" or "none"."""
    if task not in TASKS:
        raise ValueError(f"frames must be one of {TASKS}, got {task!r}")
    if resolution not in flow.RESOLUTIONS:
        raise ValueError(f"resolution must be one of {list(flow.RESOLUTIONS)}, got {resolution!r}")
    if task == "none":
        return None
    return dict(rgb_tmpl=rgb_tmpl if task in ("rgb", "both") else None,
                flow_tmpl=flow_tmpl if task in ("flow", "both") else None,
                start_index=start_index, resolution=resolution, algorithm=algorithm, bound=bound)


def _extract_job(job):
    video, out_dir, settings = job
    import cv2
    cv2.setNumThreads(1)  # parallelism comes from the processes
    check = {k: settings[k] for k in ("rgb_tmpl", "flow_tmpl", "start_index", "resolution")}
    verdict = check_video(video)
    if verdict["kind"] and verdict["severity"] == "error":
        return video, "failed", f"{verdict['kind']}: {verdict['reason']}"
    if flow.is_extracted(video, out_dir, num_frames=verdict["frames"], **check):
        return video, "skipped (done)", None
    try:
        counts = flow.extract_video_frames(video, out_dir, **settings)
    except Exception as error:  # one bad video must not stop a dataset
        return video, "failed", f"{type(error).__name__}: {error}"
    return video, "extracted", counts


def extract_frames(report, pairs, settings, work):
    """Extract ``pairs`` = [(video path, frame folder), ...] with ``settings`` (`frame_settings`), run by ``work``
    (`shards.Work`: here, or one shard's share); failures become "extract" problems in ``report``. Returns
    {video: "extracted" | "skipped (done)" | "failed"} of the videos extracted here."""
    todo = [(str(v), str(o), settings) for v, o in pairs]
    results = work.run(_extract_job, todo, lambda job: os.path.splitext(os.path.basename(job[0]))[0], desc="frames")
    outcome = {}
    for video, status, detail in results:
        outcome[video] = status
        report.did(f"frames {status}")
        if status == "failed":
            report.problem("extract", video, f"{detail}; no frame folder written")
    return outcome
