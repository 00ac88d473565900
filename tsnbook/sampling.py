"""Temporal sampling: which frames of a video a TSN model gets to see.

Mirrors MMAction2's `SampleFrames` and `DenseSampleFrames` (0.24.1: `mmaction/datasets/pipelines/loading.py`;
1.2.0: `mmaction/datasets/transforms/loading.py`). The reference is 0.24.1, the version the TSN model zoo was
trained and tested with; 1.2.0's different test-mode rule is available as `test_sampling="1.x"`.

TSN splits a video into `num_clips` equal segments and takes one short clip from each: a random position per
segment while training (a cheap form of augmentation), the segment's centre while testing. A clip is
`clip_len` frames, `frame_interval` apart (clip_len=1 for RGB, 5 stacked frames for optical flow).

Both functions return MMAction2's `frame_inds`: one flat int64 array, clip after clip, with `start_index`
already added (RawframeDataset numbers its JPEGs from 1, VideoDataset from 0).

Randomness (`rng`): MMAction2 draws from numpy's *global legacy* generator. Passing `rng=None` makes the very
same `np.random.randint` / `np.random.uniform` calls, so after `np.random.seed(s)` the training indices are
bit-identical to MMAction2 0.24.1. A `np.random.RandomState` makes the same calls on its own stream, and a
`np.random.Generator` draws from the same distributions (`integers` / `uniform`) on a modern stream.

MMAction2 quirks reproduced on purpose (they change which frames the zoo checkpoints saw):
- Short videos in training use `np.around`, which rounds half to even (0.5 -> 0, 2.5 -> 2).
- 0.x and 1.x test-mode sampling differ for clip_len > 1 (flow); choose with `test_sampling`.
- With twice_sample, the unshifted test offsets stay floats until the very end and are truncated last.
- DenseSampleFrames never picks its last start position while training.
Deliberately fixed: 0.24.1 casts with `np.int`, which numpy >= 1.24 removed; we use int64.
"""
import functools
import inspect
import numbers

import numpy as np

OUT_OF_BOUND_OPTIONS = ("loop", "repeat_last")
TEST_SAMPLING_VERSIONS = ("0.x", "1.x")


class UnusableVideo(ValueError):
    """A video that decodes (or a list line that parses) but cannot be used as the pipeline asks: no frames to
    sample (a frame-folder list that says 0 frames), frames smaller than the crop (`tsnbook.transforms`).

    The data's fault, not the code's: `tsnbook.data.TSNDataset` skips such an item and the engine counts and lists
    it, as it does a corrupt file. Defined here, in the lowest module that raises it; a ValueError, as before.
    """


# ----------------------------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------------------------

def _check_int(name, value, minimum):
    """Raise ValueError unless `value` is an integer >= minimum (bools are rejected: True is not a length)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def _check_num_frames(num_frames):
    if isinstance(num_frames, bool) or not isinstance(num_frames, numbers.Integral):
        raise ValueError(f"num_frames must be a positive integer, got {num_frames!r}")
    if num_frames <= 0:
        raise UnusableVideo(f"num_frames={num_frames}: the video has no decodable frames, so no frame can be "
                         "sampled (MMAction2 would fail with a modulo by zero here)")
    return int(num_frames)


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _random_draws(rng):
    """Return the two draws MMAction2 makes, `(randint, uniform)`, taken from `rng`.

    None -> numpy's global legacy generator, exactly what MMAction2 calls (so `np.random.seed` reproduces it);
    a RandomState -> the same calls on that state; a Generator -> `integers` / `uniform`, which have the same
    signatures and distributions (`integers(a, size=k)` is uniform on [0, a) like `randint`).
    """
    if rng is None:
        return np.random.randint, np.random.uniform
    if isinstance(rng, np.random.RandomState):
        return rng.randint, rng.uniform
    if isinstance(rng, np.random.Generator):
        return rng.integers, rng.uniform
    raise ValueError(f"rng must be None, a np.random.RandomState or a np.random.Generator, got {type(rng).__name__}")


# ----------------------------------------------------------------------------------------------------------------
# Clip offsets (the first frame of every clip)
# ----------------------------------------------------------------------------------------------------------------

def _train_offsets(num_frames, clip_len, frame_interval, num_clips, keep_tail_frames, randint, uniform):
    """SampleFrames training offsets: one random start inside each of `num_clips` equal segments."""
    span = clip_len * frame_interval  # MMAction2's "ori_clip_len" (one frame_interval more than the clip needs)
    if keep_tail_frames:
        # Float-sized segments, so the last frames can be reached too.
        segment = (num_frames - span + 1) / num_clips
        if num_frames > span - 1:
            starts = np.arange(num_clips) * segment
            return (starts + uniform(0, segment, num_clips)).astype(np.int64)
        return np.zeros(num_clips, dtype=np.int64)

    # Every zoo config: integer-sized segments; up to num_clips - 1 frames at the end are never used.
    segment = (num_frames - span + 1) // num_clips
    if segment > 0:
        # randint(segment) is drawn even when segment == 1, where it can only give 0: it still uses the stream.
        return np.arange(num_clips) * segment + randint(segment, size=num_clips)
    if num_frames > max(num_clips, span):
        # Fewer valid starts than clips (only possible with clip_len > 1): draw with replacement, then sort.
        return np.sort(randint(num_frames - span + 1, size=num_clips))
    if segment == 0:
        # Very short video: spread the clips evenly. np.around rounds half to even (MMAction2 quirk, kept).
        ratio = (num_frames - span + 1.0) / num_clips
        return np.around(np.arange(num_clips) * ratio).astype(np.int64)  # values are whole numbers: exact
    return np.zeros(num_clips, dtype=np.int64)  # the video is shorter than one clip


def _test_offsets_0x(num_frames, clip_len, frame_interval, num_clips, twice_sample):
    """SampleFrames 0.24.1 test offsets: the centre of each segment (deterministic)."""
    span = clip_len * frame_interval
    segment = (num_frames - span + 1) / num_clips
    if num_frames <= span - 1:
        return np.zeros(num_clips, dtype=np.int64)  # twice_sample is ignored here, as in 0.24.1
    starts = np.arange(num_clips) * segment
    offsets = (starts + segment / 2.0).astype(np.int64)
    if twice_sample:
        # The segment starts are appended as *floats*; they are truncated only after the out-of-bound step.
        return np.concatenate([offsets, starts])
    return offsets


def _test_offsets_1x(num_frames, clip_len, frame_interval, num_clips, twice_sample):
    """SampleFrames 1.2.0 test offsets (a different rule for clip_len > 1, taken from PySlowFast)."""
    if clip_len == 1:
        # Like 0.x for frame_interval == 1; 1.x ignores frame_interval here. Floats, truncated at the end.
        segment = num_frames / num_clips
        starts = np.arange(num_clips) * segment
        offsets = starts + segment / 2.0
        return np.concatenate([offsets, starts]) if twice_sample else offsets
    span = (clip_len - 1) * frame_interval + 1  # the frames one clip really covers
    max_offset = max(num_frames - span, 0)
    count = 2 * num_clips if twice_sample else num_clips
    if count == 1:
        return np.array([max_offset // 2])
    # Evenly from 0 to max_offset, with np.round (half to even). The divisor is num_clips - 1 even with
    # twice_sample, so the second half runs past the end and is wrapped by the out-of-bound rule (1.x quirk).
    # (twice_sample with num_clips == 1 would divide by zero; sample_frames rejects it before we get here.)
    return np.round(np.arange(count) * (max_offset / float(num_clips - 1)))


def _dense_offsets(num_frames, num_clips, sample_range, num_sample_positions, test_mode, randint):
    """DenseSampleFrames offsets: `num_clips` starts `sample_range // num_clips` apart inside a window."""
    positions = max(1, 1 + num_frames - sample_range)  # how many places the window can start
    step = sample_range // num_clips
    clip_steps = np.arange(num_clips) * step
    if test_mode:
        window_starts = np.linspace(0, positions - 1, num=num_sample_positions, dtype=np.int64)
    else:
        # randint(0, positions - 1) draws from [0, positions - 2]: the last start is never chosen (quirk, kept).
        window_starts = np.array([0 if positions == 1 else randint(0, positions - 1)])
    return ((window_starts[:, None] + clip_steps[None, :]) % num_frames).reshape(-1)


# ----------------------------------------------------------------------------------------------------------------
# From offsets to frame indices (shared by both samplers)
# ----------------------------------------------------------------------------------------------------------------

def _frame_indices(offsets, num_frames, clip_len, frame_interval, out_of_bound_opt, start_index, jitter_randint):
    """Expand clip offsets into frames, fix frames past the end per clip, add start_index, cast to int64."""
    clips = offsets[:, None] + np.arange(clip_len)[None, :] * frame_interval
    if jitter_randint is not None:
        # temporal_jitter: a random shift in [0, frame_interval) per frame (drawn even when frame_interval == 1).
        clips = clips + jitter_randint(frame_interval, size=clips.size).reshape(clips.shape)
    if out_of_bound_opt == "loop":
        clips = np.mod(clips, num_frames)
    else:  # "repeat_last": every frame past the end becomes the clip's last valid frame (0 if it has none)
        inside = clips < num_frames
        last_inside = np.max(np.where(inside, clips, 0), axis=1)
        clips = np.where(inside, clips, last_inside[:, None])
    return (clips.reshape(-1) + start_index).astype(np.int64)


# ----------------------------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------------------------

def sample_frames(num_frames, clip_len=1, frame_interval=1, num_clips=1, test_mode=False, twice_sample=False,
                  out_of_bound_opt="loop", keep_tail_frames=False, start_index=0, rng=None, test_sampling="0.x",
                  temporal_jitter=False):
    """Frame indices of MMAction2's `SampleFrames` (TSN segment sampling) for a video of `num_frames` frames.

    Returns a flat int64 array of num_clips * clip_len indices (twice that with test-mode twice_sample),
    clip after clip, each already offset by `start_index`.

    - Training (`test_mode=False`): the video is cut into num_clips equal segments and each clip starts at a
      random frame of its segment. Segment sizes are integers unless `keep_tail_frames=True`; short videos
      fall back to sorted random starts or to evenly spread starts (rounded half to even, an MMAction2 quirk).
    - Testing: each clip starts at its segment's centre. `twice_sample=True` also adds clips at the segment
      starts (2 * num_clips clips; the TSM test trick). `test_sampling` picks the rule: "0.x" (default, what
      every 0.x checkpoint was tested with) or "1.x" (MMAction2 1.2.0; for clip_len > 1 it spreads clips from
      the first to the last possible start instead, so 0.x flow results are not reproduced with it).
    - `out_of_bound_opt`: "loop" wraps frames past the end (index mod num_frames); "repeat_last" repeats the
      clip's last valid frame.
    - `rng`: None (numpy's global legacy generator, bit-identical to MMAction2 after `np.random.seed`), a
      `np.random.RandomState`, or a `np.random.Generator`. Test mode draws nothing unless temporal_jitter.
    - `temporal_jitter`: shift each frame by a random amount in [0, frame_interval) (no TSN config uses it).

    As in MMAction2, keep_tail_frames only affects training, twice_sample and test_sampling only testing.
    1.2.0 raises ZeroDivisionError for test mode with twice_sample=True, num_clips=1 and clip_len > 1; with
    test_sampling="1.x" we raise a ValueError instead (the "0.x" rule handles that case fine).
    """
    num_frames = _check_num_frames(num_frames)
    clip_len = _check_int("clip_len", clip_len, 1)
    frame_interval = _check_int("frame_interval", frame_interval, 1)
    num_clips = _check_int("num_clips", num_clips, 1)
    start_index = _check_int("start_index", start_index, 0)
    _check_choice("out_of_bound_opt", out_of_bound_opt, OUT_OF_BOUND_OPTIONS)
    _check_choice("test_sampling", test_sampling, TEST_SAMPLING_VERSIONS)
    randint, uniform = _random_draws(rng)

    if not test_mode:
        offsets = _train_offsets(num_frames, clip_len, frame_interval, num_clips, keep_tail_frames,
                                 randint, uniform)
    elif test_sampling == "0.x":
        offsets = _test_offsets_0x(num_frames, clip_len, frame_interval, num_clips, twice_sample)
    else:
        if twice_sample and num_clips == 1 and clip_len > 1:
            raise ValueError("test_sampling='1.x' with twice_sample=True, num_clips=1 and clip_len > 1 is undefined "
                             "(MMAction2 1.2.0 divides by num_clips - 1 = 0 and raises ZeroDivisionError); use "
                             "test_sampling='0.x', num_clips >= 2 or twice_sample=False")
        offsets = _test_offsets_1x(num_frames, clip_len, frame_interval, num_clips, twice_sample)
    return _frame_indices(offsets, num_frames, clip_len, frame_interval, out_of_bound_opt, start_index,
                          randint if temporal_jitter else None)


def dense_sample_frames(num_frames, clip_len=1, frame_interval=1, num_clips=1, sample_range=64,
                        num_sample_positions=10, test_mode=False, out_of_bound_opt="loop", start_index=0,
                        rng=None, temporal_jitter=False):
    """Frame indices of MMAction2's `DenseSampleFrames` (the zoo's `dense_*` rows); same in 0.x and 1.x.

    Instead of spanning the whole video, the num_clips clips sit `sample_range // num_clips` frames apart
    inside a window of `sample_range` frames (wrapping past the end with mod num_frames).

    - Training: one window start, random in [0, P - 2] where P = max(1, 1 + num_frames - sample_range) is the
      number of possible starts. MMAction2 calls `randint(0, P - 1)`, whose upper bound is exclusive, so the
      last start is never used (and P == 2 always gives 0); kept as is.
    - Testing: `num_sample_positions` window starts evenly spread over [0, P - 1] (truncated), giving
      num_clips * num_sample_positions clips ordered start by start. MMAction2 still reports num_clips as the
      configured num_clips; a model must average over all of these clips.

    The other arguments mean what they mean in `sample_frames`.
    """
    num_frames = _check_num_frames(num_frames)
    clip_len = _check_int("clip_len", clip_len, 1)
    frame_interval = _check_int("frame_interval", frame_interval, 1)
    num_clips = _check_int("num_clips", num_clips, 1)
    sample_range = _check_int("sample_range", sample_range, 1)
    num_sample_positions = _check_int("num_sample_positions", num_sample_positions, 1)
    start_index = _check_int("start_index", start_index, 0)
    _check_choice("out_of_bound_opt", out_of_bound_opt, OUT_OF_BOUND_OPTIONS)
    randint, _ = _random_draws(rng)

    offsets = _dense_offsets(num_frames, num_clips, sample_range, num_sample_positions, test_mode, randint)
    return _frame_indices(offsets, num_frames, clip_len, frame_interval, out_of_bound_opt, start_index,
                          randint if temporal_jitter else None)


# ----------------------------------------------------------------------------------------------------------------
# The model zoo's names
# ----------------------------------------------------------------------------------------------------------------

#: The zoo's training layouts mapped to sampler arguments: "clip_len x frame_interval x num_clips" (train with
#: test_mode=False, validate with the same arguments and test_mode=True). The test protocols ("25x10", "25x3",
#: "dense-8x1", ...) are defined with their spatial half in `tsnbook.pipelines`, the one place for them.
#: 0.x names its flow configs "1x1x3"/"1x1x8" although they sample 5 stacked frames (1.x calls them "5x1x3").
ZOO_SAMPLING = {
    "1x1x3": dict(dense=False, clip_len=1, frame_interval=1, num_clips=3),
    "1x1x5": dict(dense=False, clip_len=1, frame_interval=1, num_clips=5),
    "1x1x6": dict(dense=False, clip_len=1, frame_interval=1, num_clips=6),
    "1x1x8": dict(dense=False, clip_len=1, frame_interval=1, num_clips=8),
    "1x1x16": dict(dense=False, clip_len=1, frame_interval=1, num_clips=16),
    "5x1x3": dict(dense=False, clip_len=5, frame_interval=1, num_clips=3),  # flow, 0.x "..._1x1x3_..._flow"
    "5x1x8": dict(dense=False, clip_len=5, frame_interval=1, num_clips=8),  # flow, 0.x "..._1x1x8_..._flow"
    "dense_1x1x5": dict(dense=True, clip_len=1, frame_interval=1, num_clips=5),  # its config tests "dense-8x1"
    "dense_1x1x8": dict(dense=True, clip_len=1, frame_interval=1, num_clips=8),
}


def zoo_sampling(name, test_mode=None, **overrides):
    """A sampler for a zoo name: `zoo_sampling("1x1x3", test_mode=True)(num_frames)` gives the indices.

    Returns `functools.partial(sample_frames or dense_sample_frames, **arguments)`; call it with num_frames
    and, if needed, start_index=... and rng=... . `test_mode=None` means training (the layouts' own mode);
    `overrides` replace any other argument. A test protocol's sampler: `tsnbook.pipelines.protocol_sampler`.
    """
    if name not in ZOO_SAMPLING:
        hint = " (test protocols: tsnbook.pipelines.protocol_sampler)" if "x" in name and name.count("x") == 1 else ""
        raise ValueError(f"unknown zoo sampling name {name!r}; known names: {sorted(ZOO_SAMPLING)}{hint}")
    arguments = dict(ZOO_SAMPLING[name])
    sampler = dense_sample_frames if arguments.pop("dense") else sample_frames
    if test_mode is not None:
        arguments["test_mode"] = bool(test_mode)
    allowed = set(inspect.signature(sampler).parameters) - {"num_frames"}
    unknown = set(overrides) - allowed
    if unknown:
        raise ValueError(f"{sampler.__name__} has no argument(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    arguments.update(overrides)
    return functools.partial(sampler, **arguments)
