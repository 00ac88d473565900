"""Diving48 on its replica: the real download in miniature (tarball, vocab 4-tuples, V1 and V2 JSONs, names
starting with '-'), prepare.py's steps, MMAction2 0.24.1's lists as the oracle, both zoo configs reading what the
command writes, and bad input failing with the file and the entry."""
import json
import os
import shutil
import tarfile

import av
import pytest
from mma_lists import build_file_list, lines, run_generator
from range_server import RangeServer

from conftest import prepare_cli
from tsnbook.configs import get_config
from tsnbook.data import build_dataset, load_annotations
from tsnbook.datasets import diving48
from tsnbook.datasets.files import AnnotationError, DatasetError

CONFIGS = ("tsn_r50_video_1x1x8_100e_diving48_rgb", "tsn_r50_video_1x1x16_100e_diving48_rgb")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The replica after `prepare.py diving48 all` (one process): the state a user has after the command."""
    root = tmp_path_factory.mktemp("diving48")
    made = diving48.make_replica(root, seed=0)
    code, printed = prepare_cli(["diving48", "all", "--root", str(root), "--workers", "1"])
    return dict(root=root, made=made, code=code, printed=printed)


@pytest.fixture(scope="module")
def framed(prepared, tmp_path_factory):
    """A copy of the prepared replica after `extract --frames rgb` and `lists`: rawframes lists too."""
    root = tmp_path_factory.mktemp("diving48_frames") / "diving48"
    shutil.copytree(prepared["root"], root)
    extract = prepare_cli(["diving48", "extract", "--root", str(root), "--workers", "1", "--frames", "rgb"])
    built = prepare_cli(["diving48", "lists", "--root", str(root), "--workers", "1"])
    return dict(root=root, extract=extract, lists=built)


def test_replica_has_the_real_layout_and_quirks(prepared):
    root, made = prepared["root"], prepared["made"]
    with tarfile.open(root / "downloads" / "Diving48_rgb.tar.gz") as tf:
        names = tf.getnames()
    assert all(n.startswith("rgb/") and n.endswith(".mp4") for n in names)
    assert len(names) == 124  # 124 V2 clips + the V1-only one, minus the missing one
    starts = {name[0] for name in made["videos"]}
    assert "-" in starts and "_" in starts  # YouTube ids beginning with '-' and '_'
    assert all(len(name) == 17 and name[11] == "_" and name[12:].isdigit() for name in made["videos"])
    vocab = json.loads((root / "downloads" / "Diving48_vocab.json").read_text())
    assert vocab[0] == ["Forward", "15som", "NoTwis", "PIKE"] and all(len(entry) == 4 for entry in vocab)
    assert all("+".join(entry) in diving48.PUBLISHED_CLASSES for entry in vocab)
    v2 = json.loads((root / "downloads" / "Diving48_V2_train.json").read_text())
    v1 = json.loads((root / "downloads" / "Diving48_train.json").read_text())
    assert set(v2[0]) == {"vid_name", "label", "start_frame", "end_frame"}
    assert [e["vid_name"] for e in v1] == [e["vid_name"] for e in v2] + [made["v1_only"]]  # differ by one clip
    assert (root / "downloads" / "Diving48_V2_test.json").read_bytes() == \
        (root / "downloads" / "Diving48_test.json").read_bytes()
    with av.open(str(root / "videos" / f"{made['videos'][0]}.mp4")) as container:
        stream = container.streams.video[0]
        assert (container.format.name.split(",")[0], stream.codec_context.name) == ("mov", "h264")
        assert (stream.codec_context.width, stream.codec_context.height, float(stream.average_rate)) == (128, 96, 30)
        assert 75 <= stream.frames <= 105  # 2.5-3.5 s
    assert (root / "videos" / f"{made['v1_only']}.mp4").is_file()


def test_replica_is_deterministic_from_its_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(diving48, "REPLICA_TRAIN", 3)  # a smaller replica: the same generator, faster
    monkeypatch.setattr(diving48, "REPLICA_TEST", 1)
    first, again, other = (diving48.make_replica(tmp_path / name, seed=seed) for name, seed in
                           (("a", 0), ("b", 0), ("c", 1)))
    for made, reference in zip(first["files"], again["files"]):
        assert made.read_bytes() == reference.read_bytes(), made.name
    assert other["files"][0].read_bytes() != first["files"][0].read_bytes()


def test_replica_dives_differ_in_their_motion_only():
    """The same draws with 1.5 or 2.5 somersaults, with or without a twist: the same frames on the board, the
    twist's moment the only frames a twist changes, and the body turning faster in every 2.5 dive."""
    import numpy as np

    from tsnbook.datasets import diving48_replica as dives
    for seed in range(4):
        scene = dives.venue(np.random.default_rng(100 + seed), 96, 128)
        (slow, moment), (fast, _), (twisted, twist) = (
            dives.render_dive(np.random.default_rng(seed), 90, scene, somersaults, twists)
            for somersaults, twists in ((1.5, False), (2.5, False), (1.5, True)))
        assert moment is None and twist[1] - twist[0] + 1 == int(np.ceil(90 * dives.TWIST_FRACTION))
        changed = np.flatnonzero((twisted != slow).any(axis=(1, 2, 3)))
        assert changed.tolist() == list(range(twist[0], twist[1] + 1))  # the twist: its frames and no others
        board = np.flatnonzero((fast != slow).any(axis=(1, 2, 3)))[0]
        assert board >= int(90 * 0.13)  # the same frames until the take-off
        flight = slice(board + 1, int(90 * 0.83))

        def motion(frames):
            return np.abs(np.diff(frames[flight].astype(int), axis=0)).mean()
        assert motion(fast) > 1.2 * motion(slow), seed


def test_prepare_all_writes_v2_and_v1_lists_and_finds_the_missing_and_the_corrupt_clip(prepared):
    root, made = prepared["root"], prepared["made"]
    assert prepared["code"] == 1, prepared["printed"]  # problems found: training should not start
    report = (root / "prepare_verify_report.txt").read_text().splitlines()
    errors = {tuple(line.split("\t")[1:3]) for line in report if line.startswith("error\t")}
    assert errors == {("missing", str(root / "videos" / f"{made['missing']}.mp4")),
                      ("unreadable", str(root / "videos" / f"{made['corrupt']}.mp4"))}
    train = lines(root / "diving48_train_list_videos.txt")
    assert len(train) == 63 and train[0] == f"{made['videos'][0]}.mp4 0"  # 64 in V2, one missing
    assert train[0].startswith("-") and not any(made["missing"] in line or made["v1_only"] in line for line in train)
    assert f"{made['corrupt']}.mp4 3" in train  # on disk: listed (verify reports it), as MMAction2 does
    v1_train = lines(root / "diving48_v1_train_list_videos.txt")
    assert v1_train == train + [f"{made['v1_only']}.mp4 0"]
    assert lines(root / "diving48_val_list_videos.txt") == lines(root / "diving48_v1_val_list_videos.txt")
    assert lines(root / "label_map_diving48.txt") == ["Forward+15som+NoTwis+PIKE", "Forward+15som+1Twis+FREE",
                                                      "Forward+25som+NoTwis+PIKE", "Forward+25som+1Twis+PIKE"]
    assert not (root / "diving48_train_list_rawframes.txt").exists()  # no frames extracted: the zoo reads videos
    assert "| V2 train videos | 15,027 | 64 | 62 | 63 |" in prepared["printed"]  # published, listed, good, written
    assert "1 clip(s) listed in V1 but not in V2" in prepared["printed"]
    # the training parser reads names that begin with '-' or '_' like any other
    records = load_annotations(root / "diving48_train_list_videos.txt", root / "videos", "video")
    assert os.path.isfile(records[0].path) and records[0].label == 0


def test_a_second_run_skips_what_is_done(prepared):
    code, printed = prepare_cli(["diving48", "extract", "--root", str(prepared["root"]), "--workers", "1"])
    assert code == 0 and "annotations skipped (present) 1" in printed and "videos skipped (present) 1" in printed
    code, printed = prepare_cli(["diving48", "download", "--root", str(prepared["root"])])
    assert code == 0 and "skipped (already extracted) 6" in printed


def test_frames_extract_and_lists_equal_mmaction2_build_file_list(tmp_path, framed):
    root = framed["root"]
    code, printed = framed["extract"]
    assert code == 1 and "frames extracted 123" in printed and "frames failed 1" in printed  # the corrupt clip
    assert framed["lists"][0] == 1  # the missing clip (and the corrupt one's frames) are still reported
    for kind in ("videos", "rawframes"):
        theirs = {}
        for subset in ("train", "val"):
            found, _ = build_file_list(tmp_path / "mma", "diving48", root, f"{kind}/", 1, kind, subset, 1)
            theirs.update(found)
        for subset in ("train", "val"):
            name = diving48.list_name(subset, kind)
            assert lines(root / name) == theirs[name], name
    folder, count, label = lines(root / "diving48_val_list_rawframes.txt")[0].split()
    assert int(count) == len(os.listdir(root / "rawframes" / folder)) and label == "0"
    # MMAction2's per-dataset scripts (tools/data/diving48/generate_*_filelist.sh): the same lines, shuffled
    for kind in ("videos", "rawframes"):
        found, _ = run_generator(tmp_path / "gen", "diving48", root, f"generate_{kind}_filelist.sh")
        for subset in ("train", "val"):
            name = diving48.list_name(subset, kind)
            assert sorted(found[name]) == sorted(lines(root / name)), name


def test_mmaction2_drops_the_missing_clip_without_a_word(tmp_path, prepared):
    _, printed = build_file_list(tmp_path / "mma", "diving48", prepared["root"], "videos/", 1, "videos", "train", 1)
    assert prepared["made"]["missing"] not in printed
    assert prepared["made"]["missing"] in (prepared["root"] / "prepare_lists_report.txt").read_text()


@pytest.mark.parametrize("name", CONFIGS)
def test_the_zoo_configs_read_what_prepare_writes(prepared, name):
    root, cfg = prepared["root"], get_config(name)
    assert cfg["source"] == "video" and cfg["data_prefix"] == "videos" and "data_prefix_val" not in cfg
    assert cfg["ann_file_train"] == diving48.list_name("train", "videos")
    assert cfg["ann_file_val"] == cfg["ann_file_test"] == diving48.list_name("val", "videos")
    segments = cfg["num_segments"]
    shapes = {}
    for split in ("train", "val", "test"):
        dataset = build_dataset(cfg, split, data_root=root)
        assert len(dataset) == (63 if split == "train" else 60)
        item = dataset[0]
        assert "error" not in item, item
        shapes[split] = tuple(item["imgs"].shape)
        assert int(item["label"]) == 0
    assert shapes == {split: (segments, 3, 224, 224) for split in ("train", "val", "test")}


@pytest.fixture()
def annotated(tmp_path, prepared):
    """A root with the replica's annotations (copied) and videos (symlinked) to damage."""
    root = tmp_path / "diving48"
    shutil.copytree(prepared["root"] / "annotations", root / "annotations")
    os.symlink(prepared["root"] / "videos", root / "videos")
    return root


def _edit(path, transform):
    path.write_text(transform(path.read_text()))


def _edit_json(path, transform):
    data = json.loads(path.read_text())
    path.write_text(json.dumps(transform(data)))


def _relabel(entries, index, **changes):
    entries[index] = dict(entries[index], **changes)
    return entries


@pytest.mark.parametrize("file, edit, message", [
    ("Diving48_V2_train.json", lambda t: t[:len(t) // 2], r"Diving48_V2_train\.json:1:\d+: not valid JSON .*cut short"),
    ("Diving48_V2_train.json", lambda t: json.dumps(_relabel(json.loads(t), 3, label=4)),
     r"Diving48_V2_train\.json\[3\]: label 4 of .* is not an index of Diving48_vocab\.json \(0\.\.3\)"),
    ("Diving48_V2_test.json", lambda t: json.dumps(json.loads(t) + json.loads(t)[:1]),
     r"Diving48_V2_test\.json\[60\]: .* is listed twice \(first at \[0\]\): duplicate id"),
    ("Diving48_train.json", lambda t: json.dumps(_relabel(json.loads(t), 0, vid_name="a b_00001")),
     r"Diving48_train\.json\[0\]: vid_name 'a b_00001' is not a clip name"),
    ("Diving48_V2_train.json", lambda t: json.dumps([{"vid": "x"}]),
     r"Diving48_V2_train\.json\[0\]: expected \{'vid_name'"),
    ("Diving48_V2_test.json", lambda t: json.dumps(_relabel(json.loads(t), 1, start_frame=9, end_frame=2)),
     r"Diving48_V2_test\.json\[1\]: start_frame 9 / end_frame 2 .* are not a frame range"),
    ("Diving48_vocab.json", lambda t: json.dumps(json.loads(t) + [["Back", "15som", "FREE"]]),
     r"Diving48_vocab\.json\[4\]: expected \[takeoff, somersault, twist, flight\]"),
    ("Diving48_vocab.json", lambda t: json.dumps(json.loads(t) + json.loads(t)[:1]),
     r"Diving48_vocab\.json\[4\]: .* appears twice \(first at \[0\]\)"),
])
def test_bad_annotations_are_one_line_errors_with_file_and_entry(annotated, file, edit, message):
    _edit(annotated / "annotations" / file, edit)
    with pytest.raises(AnnotationError, match=message) as error:
        diving48.build_lists(annotated, workers=1)
    assert "\n" not in str(error.value)
    assert not list(annotated.glob("diving48_*.txt")) and not list(annotated.glob("*.partial"))  # nothing half-written
    report = diving48.verify(annotated, workers=1)  # verify reports the same, and says training cannot start
    assert not report.ok and report.problems[0].kind == "annotation"


def test_v1_is_optional_and_v2_is_not(annotated):
    for name in diving48.ANNOTATIONS["V1"].values():
        (annotated / "annotations" / name).unlink()
    report = diving48.build_lists(annotated, workers=1)
    assert "V1 annotations not present" in report.summary()
    assert (annotated / "diving48_train_list_videos.txt").is_file()
    assert not list(annotated.glob("diving48_v1_*"))
    (annotated / "annotations" / "Diving48_V2_test.json").unlink()
    with pytest.raises(AnnotationError, match=r"Diving48_V2_test\.json: annotation file missing; run prepare\.py "
                                              r"diving48 extract"):
        diving48.build_lists(annotated, workers=1)


def test_verify_compares_the_frame_range_and_the_vocab(annotated, prepared):
    made = prepared["made"]
    diving48.build_lists(annotated, workers=1)
    _edit_json(annotated / "annotations" / "Diving48_V2_test.json", lambda e: _relabel(e, 0, end_frame=999))
    report = diving48.verify(annotated, workers=1)
    warnings = {(p.kind, os.path.basename(p.path)) for p in report.problems if p.severity == "warning"}
    first_test = json.loads((annotated / "annotations" / "Diving48_V2_test.json").read_text())[0]["vid_name"]
    assert ("frame count", f"{first_test}.mp4") in warnings
    assert ("count", "Diving48_vocab.json") in warnings  # 4 classes where the real vocab has 48
    assert {(p.kind, os.path.basename(p.path)) for p in report.errors} == {
        ("missing", f"{made['missing']}.mp4"), ("unreadable", f"{made['corrupt']}.mp4")}
    # a full-size vocab that differs from the published one is named at its first difference
    real = [name.split("+") for name in diving48.PUBLISHED_CLASSES]
    real[5], real[6] = real[6], real[5]
    (annotated / "annotations" / "Diving48_vocab.json").write_text(json.dumps(real))
    report = diving48.verify(annotated, workers=1)
    assert any(p.kind == "label" and p.path.endswith("Diving48_vocab.json[5]") for p in report.problems)


def test_wrong_root_level_and_a_cut_archive_stop_with_what_to_do(tmp_path, prepared):
    code, printed = prepare_cli(["diving48", "verify", "--root", str(prepared["root"] / "videos")])
    assert code == 2 and f"pass --root {prepared['root']} instead" in printed and "the videos folder" in printed
    code, printed = prepare_cli(["diving48", "lists", "--root", str(prepared["root"] / "annotations")])
    assert code == 2 and "looks like the annotations folder" in printed
    root = tmp_path / "cut"
    shutil.copytree(prepared["root"] / "downloads", root / "downloads")
    tarball = root / "downloads" / diving48.FILES[0].name
    tarball.write_bytes(tarball.read_bytes()[:len(tarball.read_bytes()) // 2])
    code, printed = prepare_cli(["diving48", "extract", "--root", str(root), "--workers", "1"])
    assert code == 2 and "Diving48_rgb.tar.gz: the archive is damaged or cut short" in printed
    assert not (root / "videos").exists()  # nothing a later step would take for the videos
    code, printed = prepare_cli(["diving48", "lists", "--root", str(root)])
    assert code == 1 and "no video of that name on disk" in printed  # listed, none extracted: said so
    report = (root / "prepare_lists_report.txt").read_text()
    assert report.count("no video of that name on disk") == 125  # every clip of V2 and V1, once


def test_download_from_a_local_server_resumes_and_v1_is_optional(tmp_path, prepared):
    downloads = prepared["root"] / "downloads"
    with RangeServer(downloads, cut_after=50_000, cuts=1) as server:
        with pytest.raises(DatasetError, match="interrupted after 50,000 .*run the same command again to resume$"):
            diving48.download(tmp_path / "d", mirror=server.url, progress=False)
        report = diving48.download(tmp_path / "d", mirror=server.url, progress=False)
        assert report.actions["downloaded"] == 6 and report.ok
        assert ("Diving48_rgb.tar.gz", "bytes=50000-") in server.requests
    for remote in diving48.FILES:
        assert (tmp_path / "d" / "downloads" / remote.name).read_bytes() == (downloads / remote.name).read_bytes()
    with RangeServer(downloads, refuse=("Diving48_train.json",)) as server:
        report = diving48.download(tmp_path / "e", mirror=server.url, progress=False)
        assert report.ok and [p.kind for p in report.problems] == ["download"]  # a warning: V2 is complete
    with RangeServer(downloads, refuse=("Diving48_V2_train.json",)) as server:
        with pytest.raises(DatasetError, match=r"HTTP 403.*If http://www\.svcl\.ucsd\.edu/.* is unreachable"):
            diving48.download(tmp_path / "f", mirror=server.url, progress=False)
