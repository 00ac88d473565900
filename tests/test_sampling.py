"""tsnbook.sampling against worked examples (hand-checked on both MMAction2 versions) and against MMAction2 0.24.1 /
1.2.0 (oracle)."""
import itertools
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from oracle import mma024_class, mma1x_pipeline  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tsnbook.pipelines import protocol_sampler  # noqa: E402
from tsnbook.sampling import ZOO_SAMPLING, dense_sample_frames, sample_frames, zoo_sampling  # noqa: E402

FRAME_COUNTS = list(range(1, 41)) + [300]


def test_result_is_flat_int64():
    inds = sample_frames(300, clip_len=5, num_clips=3, test_mode=True)
    assert inds.dtype == np.int64 and inds.shape == (15,)
    assert dense_sample_frames(300, num_clips=8, test_mode=True).dtype == np.int64


# ------------------------------------------------ worked examples of SampleFrames and DenseSampleFrames

@pytest.mark.parametrize("kwargs, expected", [
    (dict(num_frames=300, num_clips=3, test_mode=True), [50, 150, 250]),
    (dict(num_frames=300, num_clips=3, test_mode=True, start_index=1), [51, 151, 251]),
    (dict(num_frames=300, num_clips=25, test_mode=True), [12 * i + 6 for i in range(25)]),
    (dict(num_frames=300, num_clips=8, test_mode=True), [18, 56, 93, 131, 168, 206, 243, 281]),
    (dict(num_frames=300, num_clips=3, test_mode=True, twice_sample=True), [50, 150, 250, 0, 100, 200]),
    (dict(num_frames=2, num_clips=8), [0, 0, 0, 1, 1, 1, 0, 0]),
    (dict(num_frames=2, num_clips=8, test_mode=True), [0, 0, 0, 0, 1, 1, 1, 1]),
    (dict(num_frames=5, num_clips=8), [0, 1, 1, 2, 2, 3, 4, 4]),
    (dict(num_frames=300, clip_len=5, num_clips=3, test_mode=True),
     list(range(49, 54)) + list(range(148, 153)) + list(range(246, 251))),
    (dict(num_frames=300, clip_len=5, num_clips=3, test_mode=True, test_sampling="1.x"),
     list(range(0, 5)) + list(range(148, 153)) + list(range(295, 300))),
    (dict(num_frames=3, clip_len=5, num_clips=3, test_mode=True), [0, 1, 2, 0, 1] * 3),
    (dict(num_frames=3, clip_len=5, num_clips=3, test_mode=True, out_of_bound_opt="repeat_last"),
     [0, 1, 2, 2, 2] * 3),
    (dict(num_frames=300, clip_len=2, num_clips=1, test_mode=True, twice_sample=True), [149, 150, 0, 1]),
])
def test_sample_frames_worked_examples(kwargs, expected):
    assert sample_frames(**kwargs).tolist() == expected


def test_train_worked_examples_with_seeded_global_generator():
    np.random.seed(0)
    assert sample_frames(300, num_clips=3).tolist() == [44, 147, 264]
    # N=10, K=8: a = 1, randint(1) is always 0, but 8 draws are still consumed from the stream.
    np.random.seed(0)
    assert sample_frames(10, num_clips=8).tolist() == list(range(8))
    after_sampling = np.random.random()
    np.random.seed(0)
    np.random.randint(1, size=8)
    assert np.random.random() == after_sampling


def test_one_x_twice_sample_single_clip_raises_value_error_instead_of_zero_division():
    with pytest.raises(ValueError, match="ZeroDivisionError"):
        sample_frames(300, clip_len=2, num_clips=1, test_mode=True, twice_sample=True, test_sampling="1.x")


def test_dense_worked_examples():
    inds = dense_sample_frames(300, num_clips=8, test_mode=True)
    starts = [0, 26, 52, 78, 104, 131, 157, 183, 209, 236]
    assert inds.tolist() == [s + 8 * i for s in starts for i in range(8)]
    assert dense_sample_frames(40, num_clips=8, test_mode=True).tolist() == [0, 8, 16, 24, 32, 0, 8, 16] * 10
    np.random.seed(0)
    assert dense_sample_frames(300, num_clips=5).tolist() == [172, 184, 196, 208, 220]
    np.random.seed(0)
    assert dense_sample_frames(300, num_clips=8).tolist() == list(range(172, 229, 8))


def test_dense_train_never_picks_last_start():
    # N=65, sample_range=64: P = 2 possible starts, but randint(0, 1) only ever gives 0.
    rng = np.random.default_rng(1)
    firsts = {int(dense_sample_frames(65, num_clips=8, rng=rng)[0]) for _ in range(200)}
    assert firsts == {0}
    # N=70: P = 7 starts, only 0..5 are ever used.
    firsts = {int(dense_sample_frames(70, num_clips=8, rng=rng)[0]) for _ in range(500)}
    assert firsts == set(range(6))


# ---------------------------------------------------------------- broad grid against MMAction2 0.24.1

GRID = list(itertools.product(FRAME_COUNTS, (1, 2, 5), (1, 2), (1, 3, 8, 25)))


def _oracle_inds(cls, num_frames, start_index=0, **kwargs):
    return cls(**kwargs)(dict(total_frames=num_frames, start_index=start_index))["frame_inds"]


def test_test_mode_identical_to_0_24_1_on_grid():
    SampleFrames = mma024_class("SampleFrames")
    for (n, clip_len, interval, clips), twice, oob in itertools.product(
            GRID, (False, True), ("loop", "repeat_last")):
        kwargs = dict(clip_len=clip_len, frame_interval=interval, num_clips=clips, twice_sample=twice,
                      out_of_bound_opt=oob, test_mode=True)
        expected = _oracle_inds(SampleFrames, n, **kwargs)
        ours = sample_frames(n, **kwargs)
        assert np.array_equal(ours, expected), (n, kwargs, ours, expected)


def test_train_mode_identical_to_0_24_1_with_seeded_legacy_generator():
    SampleFrames = mma024_class("SampleFrames")
    for seed, ((n, clip_len, interval, clips), keep_tail, oob) in enumerate(itertools.product(
            GRID, (False, True), ("loop", "repeat_last"))):
        kwargs = dict(clip_len=clip_len, frame_interval=interval, num_clips=clips, out_of_bound_opt=oob,
                      keep_tail_frames=keep_tail)
        np.random.seed(seed)
        expected = _oracle_inds(SampleFrames, n, **kwargs)
        np.random.seed(seed)
        from_global = sample_frames(n, **kwargs)  # rng=None: numpy's global legacy generator
        from_state = sample_frames(n, rng=np.random.RandomState(seed), **kwargs)
        assert np.array_equal(from_global, expected), (n, kwargs, from_global, expected)
        assert np.array_equal(from_state, expected), (n, kwargs, from_state, expected)


@pytest.mark.parametrize("test_mode", [False, True])
def test_start_index_and_temporal_jitter_identical_to_0_24_1(test_mode):
    SampleFrames = mma024_class("SampleFrames")
    for n, clip_len, interval, clips in [(300, 1, 1, 8), (300, 5, 2, 3), (7, 4, 3, 3), (40, 2, 4, 25)]:
        kwargs = dict(clip_len=clip_len, frame_interval=interval, num_clips=clips, temporal_jitter=True,
                      test_mode=test_mode)
        np.random.seed(n)
        expected = _oracle_inds(SampleFrames, n, start_index=1, **kwargs)
        np.random.seed(n)
        assert np.array_equal(sample_frames(n, start_index=1, **kwargs), expected)


def test_dense_identical_to_0_24_1():
    DenseSampleFrames = mma024_class("DenseSampleFrames")
    for seed, (n, clip_len, clips, sample_range, oob) in enumerate(itertools.product(
            (1, 2, 5, 30, 63, 64, 65, 66, 100, 300), (1, 2), (1, 5, 8), (8, 64), ("loop", "repeat_last"))):
        for test_mode in (False, True):
            kwargs = dict(clip_len=clip_len, frame_interval=1, num_clips=clips, sample_range=sample_range,
                          num_sample_positions=10, out_of_bound_opt=oob, test_mode=test_mode)
            np.random.seed(seed)
            expected = _oracle_inds(DenseSampleFrames, n, start_index=1, **kwargs)
            np.random.seed(seed)
            ours = dense_sample_frames(n, start_index=1, **kwargs)
            assert np.array_equal(ours, expected), (n, kwargs, ours, expected)
            ours = dense_sample_frames(n, start_index=1, rng=np.random.RandomState(seed), **kwargs)
            assert np.array_equal(ours, expected), (n, kwargs, ours, expected)


# ---------------------------------------------------------------- test_sampling="1.x" against MMAction2 1.2.0

def test_one_x_test_mode_identical_to_1_2_0():
    for (n, clip_len, interval, clips), twice, oob in itertools.product(
            GRID[::3], (False, True), ("loop", "repeat_last")):
        kwargs = dict(clip_len=clip_len, frame_interval=interval, num_clips=clips, twice_sample=twice,
                      out_of_bound_opt=oob, test_mode=True)
        pipeline = mma1x_pipeline([dict(type="SampleFrames", **kwargs)])
        if twice and clips == 1 and clip_len > 1:
            with pytest.raises(ZeroDivisionError):
                pipeline(dict(total_frames=n, start_index=0))
            with pytest.raises(ValueError):
                sample_frames(n, test_sampling="1.x", **kwargs)
            continue
        expected = pipeline(dict(total_frames=n, start_index=0))["frame_inds"]
        ours = sample_frames(n, test_sampling="1.x", **kwargs)
        assert np.array_equal(ours, expected), (n, kwargs, ours, expected)


def test_one_x_equals_zero_x_for_rgb_test_sampling():
    for n, clips, twice in itertools.product(FRAME_COUNTS, (1, 3, 8, 25), (False, True)):
        a = sample_frames(n, num_clips=clips, test_mode=True, twice_sample=twice)
        b = sample_frames(n, num_clips=clips, test_mode=True, twice_sample=twice, test_sampling="1.x")
        assert np.array_equal(a, b), (n, clips, twice)


# ---------------------------------------------------------------- np.random.Generator path

def test_generator_path_has_the_same_support_and_shape():
    rng = np.random.default_rng(0)
    for n, clip_len, clips, keep_tail in itertools.product((3, 7, 12, 40, 300), (1, 2, 5), (1, 3, 8),
                                                          (False, True)):
        seen = sample_frames(n, clip_len=clip_len, num_clips=clips, keep_tail_frames=keep_tail, rng=rng)
        assert seen.shape == (clips * clip_len,)
        assert seen.min() >= 0 and seen.max() < n
        if n > clip_len * clips and not keep_tail:
            # Each clip's start stays inside its integer segment.
            segment = (n - clip_len + 1) // clips
            starts = seen.reshape(clips, clip_len)[:, 0]
            assert np.all(starts // segment >= np.arange(clips))
            assert np.all(starts - np.arange(clips) * segment < segment)


def test_generator_offsets_are_roughly_uniform_within_segments():
    rng = np.random.default_rng(123)
    draws = np.stack([sample_frames(300, num_clips=3, rng=rng) for _ in range(6000)])  # segments of 100
    within = draws - np.array([0, 100, 200])
    assert within.min() == 0 and within.max() == 99
    for column in within.T:
        counts = np.bincount(column // 10, minlength=10)  # ten bins of ten frames, 600 expected each
        assert counts.min() > 480 and counts.max() < 720
        assert abs(column.mean() - 49.5) < 2.0


def test_generator_keep_tail_frames_uniform_and_dense_support():
    rng = np.random.default_rng(7)
    draws = np.stack([sample_frames(10, num_clips=2, keep_tail_frames=True, rng=rng) for _ in range(4000)])
    assert set(draws[:, 0]) == set(range(5)) and set(draws[:, 1]) == set(range(5, 10))
    firsts = {int(dense_sample_frames(100, num_clips=8, rng=rng)[0]) for _ in range(2000)}
    assert firsts == set(range(36))  # P = 37 starts, the last never drawn


# ---------------------------------------------------------------- zoo names

def test_zoo_sampling_names():
    assert ZOO_SAMPLING["1x1x3"] == dict(dense=False, clip_len=1, frame_interval=1, num_clips=3)
    assert zoo_sampling("1x1x3", test_mode=True)(300).tolist() == [50, 150, 250]
    # the test protocols' temporal halves live with their spatial halves (tsnbook.pipelines)
    assert protocol_sampler("25x10")(300).tolist() == [12 * i + 6 for i in range(25)]
    assert np.array_equal(protocol_sampler("25x3")(300), protocol_sampler("25x10")(300))
    assert protocol_sampler("25x10", clip_len=5)(300).shape == (125,)
    assert protocol_sampler("dense-8x1")(300).shape == (80,)
    assert np.array_equal(protocol_sampler("dense-8x1")(300), dense_sample_frames(300, num_clips=8, test_mode=True))
    np.random.seed(0)
    assert zoo_sampling("dense_1x1x5")(300).tolist() == [172, 184, 196, 208, 220]
    np.random.seed(0)
    assert zoo_sampling("1x1x3")(300).tolist() == [44, 147, 264]
    assert zoo_sampling("1x1x8", test_mode=True)(300, start_index=1).tolist() == [
        19, 57, 94, 132, 169, 207, 244, 282]
    for name in ZOO_SAMPLING:
        inds = zoo_sampling(name, rng=np.random.default_rng(0))(300)
        assert inds.min() >= 0 and inds.max() < 300
    with pytest.raises(ValueError, match="unknown zoo sampling name"):
        zoo_sampling("2x2x2")
    with pytest.raises(ValueError, match="test protocols: tsnbook.pipelines.protocol_sampler"):
        zoo_sampling("25x10")
    with pytest.raises(ValueError, match="twice_sample"):
        zoo_sampling("dense_1x1x8", twice_sample=True)


# ---------------------------------------------------------------- bad arguments

@pytest.mark.parametrize("kwargs, match", [
    (dict(num_frames=0), "no decodable frames"),
    (dict(num_frames=-3), "no decodable frames"),
    (dict(num_frames=2.5), "num_frames"),
    (dict(num_frames=10, clip_len=0), "clip_len"),
    (dict(num_frames=10, frame_interval=0), "frame_interval"),
    (dict(num_frames=10, num_clips=0), "num_clips"),
    (dict(num_frames=10, num_clips=True), "num_clips"),
    (dict(num_frames=10, start_index=-1), "start_index"),
    (dict(num_frames=10, out_of_bound_opt="clamp"), "out_of_bound_opt"),
    (dict(num_frames=10, test_sampling="2.x"), "test_sampling"),
    (dict(num_frames=10, rng=42), "rng"),
])
def test_sample_frames_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_frames(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_frames=0), "no decodable frames"),
    (dict(num_frames=10, sample_range=0), "sample_range"),
    (dict(num_frames=10, num_sample_positions=0), "num_sample_positions"),
    (dict(num_frames=10, num_clips=-1), "num_clips"),
    (dict(num_frames=10, out_of_bound_opt="wrap"), "out_of_bound_opt"),
])
def test_dense_sample_frames_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dense_sample_frames(**kwargs)
