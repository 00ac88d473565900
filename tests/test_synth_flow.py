import os

import cv2
import numpy as np
import pytest

from tsnbook.course import synth
from tsnbook.flow import compute_flow, dequantize_flow, extract_flow_dataset, make_flow_fn, quantize_flow
from tsnbook.io import FlowFrames, open_video


def test_flow_quantisation_matches_denseflow():
    flow = np.array([[[-25.0, -20.0], [0.0, 20.0], [10.0, 40.0]]])
    q = quantize_flow(flow, bound=20)
    assert q.dtype == np.uint8
    assert q.tolist() == [[[0, 0], [128, 255], [191, 255]]]  # 127.5 rounds to 128; (10+20)*255/40 = 191.25
    assert np.allclose(dequantize_flow(q)[0, 2, 0], 10, atol=0.1)


def test_flow_algorithms_see_a_translation():
    rng = np.random.default_rng(0)
    import cv2
    texture = cv2.GaussianBlur(rng.integers(0, 256, (80, 100, 3), dtype=np.uint8), (0, 0), 2)
    frames = np.stack([texture, np.roll(texture, 2, axis=1)])  # content moves 2 px to the right
    for algorithm in ("dis", "farneback"):
        flow = compute_flow(frames, algorithm)
        assert flow.shape == (1, 80, 100, 2)
        assert abs(np.median(flow[0, 10:-10, 10:-10, 0]) - 2) < 0.3, algorithm
        assert abs(np.median(flow[0, 10:-10, 10:-10, 1])) < 0.3, algorithm
    with pytest.raises(ValueError, match="unknown flow algorithm"):
        make_flow_fn("lucas")


def test_appearance_is_colour_and_motion_is_direction():
    rng = np.random.default_rng(0)
    background = np.full((120, 160, 3), 120, np.uint8)
    red = synth.render_clip("RedBall", background, rng, 10, 16, 2.0)
    assert (np.abs(red[0].astype(int) - (230, 40, 40)).sum(-1) < 30).sum() > 500  # a red ball is there
    left = synth.render_clip("MoveLeft", background, rng, 10, 16, 2.0)
    moving = np.abs(left.astype(int) - 120).sum(-1) > 60
    x_centre = [np.nonzero(m)[1].mean() for m in moving]
    assert np.allclose(np.diff(x_centre), -2.0, atol=0.2)


def test_generation_is_deterministic_and_corruption_is_caught(tmp_path):
    options = dict(groups=1, clips_per_group=1, test_groups=1, num_frames=8)
    first = synth.generate(tmp_path / "a", **options)
    second = synth.generate(tmp_path / "b", **options)
    assert first["files"] == second["files"]  # same SHA-256 for every video
    assert synth.verify(tmp_path / "a", **options) == first
    assert synth.verify(tmp_path / "a", **dict(options, seed=1)) is None  # other options: regenerate
    victim = tmp_path / "a" / "videos" / "MoveUp" / "v_MoveUp_g01_c01.mp4"
    victim.write_bytes(victim.read_bytes()[:-10])
    with pytest.raises(synth.CorruptDataError, match="v_MoveUp_g01_c01.mp4 is missing or corrupt"):
        synth.verify(tmp_path / "a", **options)
    assert synth.prepare(tmp_path / "a", **options)["files"] == first["files"]  # regenerated
    assert synth.verify(tmp_path / "a", **options) == first


def test_extracted_flow_shows_the_class_direction(small_synth):
    line = next(l for l in (small_synth / "synthactions_val_split_1_flow.txt").read_text().splitlines()
                if l.startswith("MoveRight/"))
    folder, count, label = line.split()
    assert int(count) == open_video(small_synth / "videos" / (folder + ".mp4")).num_frames - 1
    flow = dequantize_flow(FlowFrames(small_synth / "rawframes" / folder, int(count)).get(np.arange(5)))
    moving = np.abs(flow).sum(-1) > 1
    dx, dy = np.median(flow[..., 0][moving]), np.median(flow[..., 1][moving])
    assert dx > 0.5 and abs(dy) < dx / 3  # rightwards


def test_one_worker_extracts_in_this_process(tmp_path, monkeypatch):
    # No spawned pool for workers=1: no start-up seconds, and a script without `if __name__ == "__main__"` works.
    # A pool's worker would import the real extract_video_flow, not this stand-in.
    calls = []

    def extract(video, out_dir, **kwargs):
        calls.append(os.getpid())
        return 7
    monkeypatch.setattr("tsnbook.flow.extract_video_flow", extract)
    counts, failures = extract_flow_dataset([(tmp_path / "a.mp4", tmp_path / "a")], workers=1, progress=False)
    assert calls == [os.getpid()] and counts == {str(tmp_path / "a.mp4"): 7} and failures == []


def test_ball_occupancy_counts_where_render_clip_draws_the_ball():
    # The map is what the generator draws: the same random paths (ball_path), a disc per frame.
    clips, frames = 40, 24
    rng = np.random.default_rng(3)
    drawn = np.zeros((120, 160))
    for _ in range(clips):
        video = synth.render_clip("MoveUp", np.zeros((120, 160, 3), np.uint8), rng, frames, 24, 2.5)
        drawn += (video.max(-1) > 127).sum(0)  # pixels at least half covered by the anti-aliased ball
    occupancy = synth.ball_occupancy("MoveUp", clips=clips, seed=3)
    assert occupancy.shape == (120, 160) and occupancy.min() >= 0 and occupancy.max() <= 1
    assert np.abs(occupancy - drawn / (clips * frames)).mean() < 0.1 * occupancy.mean()  # rounded centres
    assert abs(occupancy.sum() - drawn.sum() / (clips * frames)) / occupancy.sum() < 0.02


def test_a_frame_cannot_tell_a_direction_from_its_reverse_but_hints_at_the_axis():
    maps = {name: synth.ball_occupancy(name, clips=200) for name in synth.MOTION_DIRECTIONS}
    assert (maps["MoveLeft"] == maps["MoveRight"]).all() and (maps["MoveUp"] == maps["MoveDown"]).all()
    middle_third = {name: m[:, 53:107].sum() / m.sum() for name, m in maps.items()}
    assert middle_third["MoveLeft"] > middle_third["MoveUp"] + 0.1  # horizontal movers keep off the side edges


def test_render_clip_draws_the_ball_where_ball_path_puts_it():
    colour, centres = synth.ball_path("RedBall", np.random.default_rng(5), 160, 120, 6, 16, 2.5)
    video = synth.render_clip("RedBall", np.zeros((120, 160, 3), np.uint8), np.random.default_rng(5), 6, 16, 2.5)
    assert colour == synth.APPEARANCE_COLOURS["RedBall"]
    for frame, (x, y) in zip(video, centres):
        ys, xs = np.nonzero(frame.max(-1) > 127)
        assert abs(xs.mean() - x) < 0.6 and abs(ys.mean() - y) < 0.6


def test_frames_of_a_phone_video_are_extracted_upright_and_found_done(tmp_path):
    # A display matrix turning 64x48 frames by 90 degrees: the JPEG frames must be upright (48 wide, 64 high), as
    # the video readers give them, and a second extraction must find the folder done, not redo it.
    import av
    from tsnbook.flow import extract_video_frames, is_extracted
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width, stream.pix_fmt = 48, 64, "yuv420p"
        stream.set_display_rotation(90)
        for i in range(4):
            frame = np.zeros((48, 64, 3), np.uint8)
            frame[:, :8] = 255  # a bar on the left: on the bottom once turned counter-clockwise
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    out = tmp_path / "phone"
    extract_video_frames(path, out, rgb_tmpl="img_{:05d}.jpg")
    image = cv2.imread(str(out / "img_00001.jpg"))
    assert image.shape[:2] == (64, 48)
    assert image[-8:].mean() > 200 and image[:-8].mean() < 40
    assert is_extracted(path, out, rgb_tmpl="img_{:05d}.jpg")
