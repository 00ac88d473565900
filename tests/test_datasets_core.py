"""The shared machinery of tsnbook.datasets: registry, list files, reports, verification, downloads, archives,
frame and flow extraction (streaming, resizing, namings, resuming)."""
import hashlib
import io
import os
import tarfile
import tracemalloc
import warnings
import zipfile
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from range_server import RangeServer

from tsnbook import datasets, flow, jobs
from tsnbook.data import load_annotations
from tsnbook.datasets import archives, frames, lists, replica
from tsnbook.datasets.download import Remote, fetch, require_files
from tsnbook.datasets.files import AnnotationError, DatasetError, atomic_write, check_level, read_lines
from tsnbook.datasets.items import ListedOnce
from tsnbook.datasets.report import Report
from tsnbook.datasets.shards import Work
from tsnbook.datasets.verify import check_frames, check_video, describe_names
from tsnbook.io import count_frames, decord_available, open_video, probe_video, write_video


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A good 50-frame XVID AVI and broken copies of it (kinds of damage seen in real downloads)."""
    folder = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    frames = replica.render_clip(rng, 50, 120, 160, (200, 40, 40), (2, 1))
    good = folder / "good.avi"
    write_video(good, frames, fps=25)
    data = good.read_bytes()
    (folder / "cut60.avi").write_bytes(data[:int(len(data) * 0.6)])
    (folder / "cut95.avi").write_bytes(data[:int(len(data) * 0.95)])
    (folder / "empty.avi").write_bytes(b"")
    (folder / "text.avi").write_text("not a video\n")
    noise = np.repeat(rng.integers(0, 256, (5, 240, 320, 3), dtype=np.uint8), 10, axis=0)  # 5 kB-25 kB frames
    write_video(folder / "noise.avi", noise, fps=25)
    damaged = bytearray((folder / "noise.avi").read_bytes())
    middle = len(damaged) // 2
    damaged[middle:middle + 5000] = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    (folder / "garbage.avi").write_bytes(bytes(damaged))
    write_video(folder / "good.mp4", frames[:20], fps=25)
    mp4 = (folder / "good.mp4").read_bytes()
    (folder / "nomoov.mp4").write_bytes(mp4[:len(mp4) // 2])  # moov atom at the end: cut off
    return folder


def test_registry_names_the_datasets_and_lists_valid_names():
    names = datasets.names()
    assert names == tuple(n for n in datasets.PLANNED if n in datasets.MODULES) + ("folder",)  # the zoo's, then yours
    assert names[0] == "ucf101" and set(names) == set(datasets.MODULES)
    for name in names:
        assert datasets.get(name).NAME == name
    with pytest.raises(ValueError, match=f"unknown dataset 'ucf'; valid names: {', '.join(names)}$"):
        datasets.get("ucf")
    for name in (n for n in datasets.PLANNED if n not in datasets.MODULES):
        with pytest.raises(ValueError, match=f"'{name}' has no preparation module yet; available: ucf101, "):
            datasets.get(name)
    assert len(datasets.PLANNED) == 12


def test_list_lines_are_what_tsnbook_and_mmaction2_read(tmp_path):
    path = tmp_path / "l.txt"
    lists.write_list(path, [lists.video_line("A/v_a.avi", 0), lists.video_line("B/v_b.avi", [1, 4])])
    assert path.read_text() == "A/v_a.avi 0\nB/v_b.avi 1 4\n"
    records = load_annotations(path, "root", "video", multi_label=True)
    assert [r.label for r in records] == [[0], [1, 4]]
    lists.write_list(path, [lists.rawframes_line("v_x", 120, 17, offset=85), lists.rawframes_line("v_y", 9, 2, 0)])
    records = load_annotations(path, "", "rawframes", with_offset=True)
    assert [(r.path, r.offset, r.num_frames, r.label) for r in records] == [("v_x", 85, 120, 17), ("v_y", 0, 9, 2)]
    assert lists.rawframes_line("a/b", 5, [3, 1]) == "a/b 5 3 1"
    with pytest.raises(DatasetError, match=r"train\.csv:3: .massaging person's head/x.mp4. contains whitespace"):
        lists.check_path("massaging person's head/x.mp4", "train.csv:3")
    assert lists.check_path("massaging_person's_head/(x).mp4", "w") == "massaging_person's_head/(x).mp4"
    with pytest.raises(ValueError, match="0-based"):
        lists.video_line("a.avi", -1)
    lists.write_label_map(tmp_path / "map.txt", ["b", "a"])
    assert lists.read_label_map(tmp_path / "map.txt") == ["b", "a"]
    lists.write_json_list(tmp_path / "l.json", [{"filename": "x.mp4", "label": [3]}])
    assert load_annotations(tmp_path / "l.json", "", "video", multi_label=True)[0].label == [3]


def test_atomic_write_leaves_the_old_file_and_no_partial_on_failure(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write(path, "old\n")
    with pytest.raises(TypeError):
        atomic_write(path, 12)  # neither str nor bytes: fails while writing
    assert path.read_text() == "old\n" and sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_annotation_lines_accept_crlf_and_bad_files_name_themselves(tmp_path):
    path = tmp_path / "trainlist01.txt"
    path.write_bytes(b"A/v_a.avi 1\r\n\r\nB/v_b.avi 2 \r\n")
    assert read_lines(path) == [(1, "A/v_a.avi 1"), (3, "B/v_b.avi 2")]
    with pytest.raises(AnnotationError, match=r"missing\.txt: annotation file missing; do this"):
        read_lines(tmp_path / "missing.txt", fix="do this")
    (tmp_path / "empty.txt").write_bytes(b"\r\n  \n")
    with pytest.raises(AnnotationError, match=r"empty\.txt: annotation file is empty"):
        read_lines(tmp_path / "empty.txt")
    (tmp_path / "bin.txt").write_bytes(b"ok\nok\n\xff\xfe\x00")
    with pytest.raises(AnnotationError, match=r"bin\.txt:3: not UTF-8"):
        read_lines(tmp_path / "bin.txt")


def test_an_annotation_file_saved_with_a_byte_order_mark_reads_as_without_it(tmp_path):
    """A classInd.txt saved by a Windows editor (or a CSV by a spreadsheet) starts with a BOM: it stuck to the first
    id ("expected 'id ClassName', got '\ufeff1 ApplyEyeMakeup'"), while the label-map reader of training dropped it."""
    from tsnbook.datasets import ucf101
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "classInd.txt").write_bytes("\ufeff1 ApplyEyeMakeup\r\n2 Archery\r\n".encode())
    assert ucf101.read_classes(tmp_path) == ["ApplyEyeMakeup", "Archery"]
    assert read_lines(tmp_path / "annotations" / "classInd.txt")[0] == (1, "1 ApplyEyeMakeup")
    damaged = tmp_path / "damaged.txt"  # a bad byte after a BOM is named where it is (the BOM is not counted away)
    damaged.write_bytes(b"\xef\xbb\xbf1 a\n2 b\n\xff3 c\n")
    with pytest.raises(AnnotationError, match=r"damaged\.txt:3: not UTF-8 text \(byte 0xff\)"):
        read_lines(damaged)
    from tsnbook.datasets import folder, folder_source
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"x")
    table = tmp_path / "mine.csv"  # Excel's "CSV UTF-8", header first
    table.write_bytes("\ufeffpath,label\r\na.mp4,jump\r\nb.mp4,run\r\n".encode())
    found = folder_source.read_csv(table, None, folder.Report("folder", "extract", tmp_path))
    assert [(row.within, row.cls) for row in found] == [("a.mp4", "jump"), ("b.mp4", "run")]


def test_an_id_listed_twice_names_both_places_as_the_reader_writes_them():
    once = ListedOnce()
    once.add("Class/v_a", "train.txt:1", "Class/v_a.avi", "at line 1")
    once.add("Class/v_b", "train.txt:2", "Class/v_b.avi", "at line 2")
    with pytest.raises(AnnotationError) as error:
        once.add("Class/v_a", "train.txt:7", "Class/v_a.avi", "at line 7")
    assert str(error.value) == "train.txt:7: Class/v_a.avi is listed twice (first at line 1): duplicate id"
    once = ListedOnce()
    once.add("42", "v2.json[0] (id 42)", "id 42", "as item 0")
    with pytest.raises(AnnotationError) as error:
        once.add("42", "v2.json[3] (id 42)", "id 42", "as item 3", "duplicate id; download it again")
    assert str(error.value) == ("v2.json[3] (id 42): id 42 is listed twice (first as item 0): duplicate id; "
                                "download it again")


def test_root_at_the_wrong_level_is_refused_with_the_right_one(tmp_path):
    (tmp_path / "data" / "videos" / "A").mkdir(parents=True)
    videos = tmp_path / "data" / "videos"
    looks = lambda folder: "the videos folder" if (folder / "A").is_dir() else None  # noqa: E731
    with pytest.raises(DatasetError, match=rf"looks like the videos folder.*pass --root {tmp_path / 'data'} instead"):
        check_level(videos, ("videos",), looks)
    assert check_level(tmp_path / "data", ("videos",), looks) == tmp_path / "data"
    assert check_level(tmp_path / "new", ("videos",), looks) == tmp_path / "new"  # nothing there yet: fine


def test_report_counts_problems_ok_and_its_file(tmp_path):
    report = Report("demo", "verify", tmp_path)
    report.count("split 1 train", published=9537, annotated=9537, on_disk=9535, written=9535)
    report.did("videos checked", 9537)
    report.problem("stray", tmp_path / "videos" / ".DS_Store", "not a class", "warning")
    assert report.ok
    report.problem("missing", tmp_path / "videos" / "A" / "a.avi", "not on disk")
    assert not report.ok and report.by_kind() == {"stray": 1, "missing": 1}
    assert "| split 1 train | 9,537 | 9,537 | 9,535 | 9,535 |" in report.table()
    text = report.summary()
    assert "videos checked 9537" in text and "1 error(s), 1 warning(s)" in text and "not ok" in text
    written = report.write().read_text().splitlines()
    assert written[0] == "# demo verify: not ok"
    assert f"error\tmissing\t{tmp_path / 'videos' / 'A' / 'a.avi'}\tnot on disk" in written
    with pytest.raises(ValueError, match="unknown problem kind"):
        report.problem("odd", "x", "y")
    merged = Report("demo", "all", tmp_path).merge(report)
    assert len(merged.problems) == 2 and merged.actions["videos checked"] == 9537


def test_check_video_finds_what_probe_video_alone_misses(clips):
    good = check_video(clips / "good.avi")
    assert (good["kind"], good["frames"], good["fps"]) == (None, 50, 25.0)
    cut = check_video(clips / "cut95.avi")  # the index (and maybe frames) cut off: probe counts what is left
    assert cut["kind"] == "truncated" and "extract or download it again" in cut["reason"]
    assert check_video(clips / "cut60.avi")["kind"] in ("truncated", "unreadable")
    assert check_video(clips / "empty.avi")["kind"] == "unreadable"
    assert check_video(clips / "text.avi")["kind"] == "unreadable"
    assert check_video(clips / "nomoov.mp4")["kind"] == "unreadable"
    assert check_video(clips / "absent.avi")["kind"] == "missing"
    # Garbage inside a file whose index is intact: only decoding every frame finds it.
    assert check_video(clips / "garbage.avi")["kind"] is None
    deep = check_video((clips / "garbage.avi", True))
    assert deep["kind"] == "unreadable" and "damaged inside" in deep["reason"]
    assert check_video((clips / "good.avi", True))["kind"] is None


def _remux_hiding(source, target, hidden):
    """``source`` remuxed (no re-encoding) with its first ``hidden`` frames before time 0, as ``ffmpeg -ss T -c
    copy`` leaves a clip: the MP4 keeps their samples (decoding starts at the keyframe before T) and its edit list
    tells decoders to drop them."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        shift = hidden * int(1 / (stream.average_rate * stream.time_base))
        for packet in inp.demux(stream):
            if packet.dts is not None:
                packet.pts, packet.dts, packet.stream = packet.pts - shift, packet.dts - shift, copy
                out.mux(packet)


def test_an_mp4_with_an_edit_list_is_whole_and_extracts_the_frames_training_reads(tmp_path):
    rng = np.random.default_rng(6)
    source = tmp_path / "source.mp4"
    write_video(source, replica.render_clip(rng, 60, 96, 128, (40, 200, 200), (2, 1)), fps=25)
    trimmed = tmp_path / "trimmed.mp4"
    _remux_hiding(source, trimmed, 10)
    with av.open(str(trimmed)) as container:
        stream = container.streams.video[0]
        assert stream.frames == 60 and sum(e.is_discard for e in stream.index_entries) == 10  # 10 samples hidden
    # Every decoder that honours the edit list gives 50 frames; decord counts the 60 samples, so training's
    # reader (open_video) does not trust it and decodes the file with PyAV: 50 frames, the last one readable.
    assert count_frames(trimmed) == 50 and probe_video(trimmed) == (50, 25.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_video(trimmed) as video:
            assert (video.backend, video.num_frames, video.get([49]).shape) == ("pyav", 50, (1, 96, 128, 3))
    if decord_available():
        assert any("decord counts 60 frames where 50 decode" in str(w.message) for w in caught)
    verdict = check_video(trimmed)
    assert (verdict["kind"], verdict["frames"]) == (None, 50), verdict["reason"]
    report = Report("t", "extract", tmp_path)
    settings = frames.frame_settings("rgb")
    work = Work(tmp_path, workers=1)
    assert frames.extract_frames(report, [(trimmed, tmp_path / "rawframes" / "trimmed")], settings, work) == {
        str(trimmed): "extracted"}
    assert check_frames((tmp_path / "rawframes" / "trimmed", None, "img_{:05d}.jpg", 1, 50))["frames"] == 50
    assert report.ok
    cut = tmp_path / "cut.mp4"  # cut short, it is still found
    data = trimmed.read_bytes()
    cut.write_bytes(data[:len(data) * 3 // 5])
    assert check_video(cut)["kind"] in ("truncated", "unreadable")


def test_verdicts_are_the_same_in_two_processes(clips):
    paths = [str(clips / n) for n in ("good.avi", "cut60.avi", "empty.avi", "absent.avi")]
    one = jobs.run(check_video, paths, workers=1)
    assert jobs.run(check_video, paths, workers=2) == one
    assert [v["kind"] for v in one][::2] == [None, "unreadable"]


def _frames(folder, names):
    folder.mkdir(parents=True)
    image = np.zeros((8, 8, 3), np.uint8)
    for name in names:
        cv2.imwrite(str(folder / name), image)
    return folder


def test_frame_folders_template_index_base_and_counts(tmp_path):
    good = _frames(tmp_path / "good", [f"img_{i:05d}.jpg" for i in range(1, 11)])
    assert check_frames((good, 10, "img_{:05d}.jpg", 1))["kind"] is None
    assert check_frames((good, None, "img_{:05d}.jpg", 1))["frames"] == 10
    wrong = check_frames((good, 12, "img_{:05d}.jpg", 1))
    assert wrong["kind"] == "frame count" and "the list says 12 frames, the folder has 10" in wrong["reason"]
    stale = check_frames((good, 10, "img_{:05d}.jpg", 1, 14))
    assert (stale["kind"], stale["severity"]) == ("frame count", "warning")
    base0 = _frames(tmp_path / "base0", [f"img_{i:05d}.jpg" for i in range(10)])
    verdict = check_frames((base0, 10, "img_{:05d}.jpg", 1))
    assert verdict["kind"] == "index base" and "numbered from 0, the config reads from 1" in verdict["reason"]
    other = _frames(tmp_path / "other", [f"image_{i:05d}.jpg" for i in range(5)])
    verdict = check_frames((other, 5, "img_{:05d}.jpg", 1))
    assert verdict["kind"] == "template" and "'image_{:05d}.jpg' from 0" in verdict["reason"]
    flows = _frames(tmp_path / "flow", [f"flow_{a}_{i:05d}.jpg" for i in range(1, 5) for a in "xy"] + ["flow_x_00005.jpg"])
    assert check_frames((flows, None, "flow_{}_{:05d}.jpg", 1))["frames"] == 4  # x without y does not count
    assert check_frames((tmp_path / "none", 3, "img_{:05d}.jpg", 1))["kind"] == "missing"
    assert check_frames((_frames(tmp_path / "empty", []), 3, "img_{:05d}.jpg", 1))["kind"] == "zero frames"
    assert describe_names(["00001.jpg", "00002.jpg", "x.txt"]) == [("{:05d}.jpg", 1, 2)]


def test_download_resumes_checks_and_says_why_it_fails(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    data = np.random.default_rng(1).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    (served / "a.zip").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    dest = tmp_path / "downloads"
    with RangeServer(served, cut_after=100_000, cuts=1) as server:
        remote = Remote("a.zip", server.url + "/a.zip", sha256=sha)
        with pytest.raises(DatasetError, match="interrupted after 100,000 .*run the same command again to resume"):
            fetch(remote, dest, progress=False)
        assert not (dest / "a.zip").exists() and (dest / "a.zip.partial").stat().st_size == 100_000
        report = Report("t", "download", tmp_path)
        assert fetch(remote, dest, report=report, progress=False).read_bytes() == data
        assert server.requests[-1] == ("a.zip", "bytes=100000-") and report.actions["downloaded"] == 1
        assert not (dest / "a.zip.partial").exists()
        fetch(remote, dest, report=report, progress=False)
        assert report.actions["skipped (present)"] == 1 and len(server.requests) == 2
        # A wrong checksum: an error, and nothing left that looks complete (nor a partial to resume from).
        bad = Remote("b.zip", server.url + "/a.zip", sha256="0" * 64)
        with pytest.raises(DatasetError, match="sha256 .* is not the published 0000.*partial file was deleted"):
            fetch(bad, dest, progress=False)
        assert not (dest / "b.zip").exists() and not (dest / "b.zip.partial").exists()
        with pytest.raises(DatasetError, match=r"404 Not Found.*--mirror URL.*by hand"):
            fetch(Remote("c.zip", server.url + "/c.zip"), dest, progress=False)
        assert fetch(Remote("a.zip", "http://unused/a.zip"), tmp_path / "m", mirror=server.url,
                     progress=False).read_bytes() == data
    with RangeServer(served, refuse={"a.zip"}) as server:
        with pytest.raises(DatasetError, match=r"refused the download \(HTTP 403"):
            fetch(Remote("a.zip", server.url + "/a.zip"), tmp_path / "r", progress=False)
    with RangeServer(served, ignore_range=True) as server:  # a server without Range support: start again
        (tmp_path / "i").mkdir()
        (tmp_path / "i" / "a.zip.partial").write_bytes(data[:5000])
        assert fetch(Remote("a.zip", server.url + "/a.zip", sha256=sha), tmp_path / "i",
                     progress=False).read_bytes() == data
    port = RangeServer(served).httpd.server_address[1]  # bound, never served: connection refused
    with pytest.raises(DatasetError, match="cannot reach the server"):
        fetch(Remote("a.zip", f"http://127.0.0.1:{port}/a.zip"), tmp_path / "u", progress=False, timeout=5)
    with pytest.raises(DatasetError, match=r"need registration.*x.tgz from https://form; put them into"):
        require_files(tmp_path / "manual", [("x.tgz", "https://form")])


def _tar_gz(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_archives_extract_resume_and_refuse_cut_or_unsafe_ones(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    members = [("top/A/a.avi", rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes()),
               ("top/B/b c's (1).txt", b"x" * 1000)]
    (tmp_path / "a.zip").write_bytes(replica.zip_bytes(members))
    (tmp_path / "a.tar.gz").write_bytes(_tar_gz(members))
    replica.write_rar(tmp_path / "a.rar", members, folders=["top", "top/A", "top/B"])
    for name in ("a.zip", "a.tar.gz", "a.rar"):
        kind = archives.archive_kind(tmp_path / name)
        assert kind == name.split(".")[1] if name != "a.tar.gz" else kind == "tar"
        if kind == "rar" and archives.rar_backend() is None:
            with pytest.raises(DatasetError, match="pip install unrar2-cffi.*apt-get install unrar"):
                archives.extract(tmp_path / name, tmp_path / "out" / name)
            continue
        report = Report("t", "extract", tmp_path)
        out = tmp_path / "out" / name
        archives.extract(tmp_path / name, out, report=report)
        for member, data in members:
            assert (out / member).read_bytes() == data, (name, member)
        archives.extract(tmp_path / name, out, report=report)  # again: every member skipped
        assert report.actions == {"extracted": 2, "skipped (done)": 2}
        data = (tmp_path / name).read_bytes()
        (tmp_path / ("cut-" + name)).write_bytes(data[:len(data) * 2 // 3])
        with pytest.raises(DatasetError, match="damaged or cut short .*download it again"):
            archives.extract(tmp_path / ("cut-" + name), tmp_path / "cut" / name)
        assert not [p for p in (tmp_path / "cut").rglob("*.partial")]
    flat = archives.extract(tmp_path / "a.zip", tmp_path / "flat", flatten=True)
    assert sorted(p.name for p in flat) == ["a.avi", "b c's (1).txt"]
    (tmp_path / "evil.zip").write_bytes(replica.zip_bytes([("../evil.txt", b"x")]))
    with pytest.raises(DatasetError, match=r"unsafe member name '../evil.txt'"):
        archives.extract(tmp_path / "evil.zip", tmp_path / "evil")
    assert not (tmp_path / "evil.txt").exists()
    monkeypatch.setattr(archives, "rar_backend", lambda: None)
    with pytest.raises(DatasetError, match=r"cannot extract .*a\.rar: no RAR extractor found: pip install "
                                           r"unrar2-cffi .*apt-get install unrar"):
        archives.extract(tmp_path / "a.rar", tmp_path / "norar")
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:  # the replica zips are deterministic
        assert [i.date_time for i in zf.infolist()] == [replica.REPLICA_TIME] * 2


def test_output_size_only_shrinks_like_denseflow():
    assert flow.output_size(320, 240, None) == (320, 240)
    assert flow.output_size(320, 240, "340x256") == (340, 256)
    assert flow.output_size(640, 360, "short256") == (455, 256)
    assert flow.output_size(360, 640, 256) == (256, 455)
    assert flow.output_size(320, 240, "short256") == (320, 240)  # never enlarged
    assert flow.output_size(1280, 720, "short320") == (568, 320)


def test_flow_extraction_streams_resizes_and_names_like_the_configs(tmp_path):
    rng = np.random.default_rng(3)
    video = tmp_path / "v.mp4"
    write_video(video, replica.render_clip(rng, 12, 240, 320, (200, 200, 40), (3, 0)), fps=25)
    out = tmp_path / "frames" / "v"
    counts = flow.extract_video_frames(video, out, flow_tmpl=flow.FLOW_TEMPLATES["kinetics"],
                                       rgb_tmpl="img_{:05d}.jpg", start_index=0, resolution="short128")
    assert counts == dict(rgb=12, flow=11)
    names = sorted(os.listdir(out))
    assert names[0] == "img_00000.jpg" and "x_00010.jpg" in names and "y_00000.jpg" in names
    assert "x_00011.jpg" not in names and len(names) == 12 + 22
    assert cv2.imread(str(out / "x_00000.jpg"), cv2.IMREAD_UNCHANGED).shape == (128, 170)
    assert not flow.staging_dir(out).exists()
    done = dict(flow_tmpl=flow.FLOW_TEMPLATES["kinetics"], rgb_tmpl="img_{:05d}.jpg", start_index=0)
    assert flow.is_extracted(video, out, resolution="short128", **done)
    assert not flow.is_extracted(video, out, resolution=None, **done)  # other size: not this extraction
    assert not flow.is_extracted(video, out, resolution="short128", **dict(done, start_index=1))
    # The zoo's default names from 1, added to the same folder (MMAction2 keeps RGB and flow together).
    assert flow.extract_video_flow(video, out, resolution="short128") == 11
    assert {"flow_x_00001.jpg", "flow_y_00011.jpg", "img_00000.jpg"} <= set(os.listdir(out))
    # A video that breaks: no folder under the real name, no staging folder left.
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(video.read_bytes()[:3000])
    with pytest.raises(Exception):
        flow.extract_video_frames(broken, tmp_path / "frames" / "broken")
    assert not (tmp_path / "frames" / "broken").exists() and not flow.staging_dir(tmp_path / "frames" / "broken").exists()


def _peak_bytes(video, out):
    tracemalloc.start()
    flow.extract_video_frames(video, out, rgb_tmpl="img_{:05d}.jpg")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_flow_memory_does_not_grow_with_the_video(tmp_path):
    rng = np.random.default_rng(4)
    frames = replica.render_clip(rng, 160, 96, 128, (40, 200, 40), (1, 1))
    write_video(tmp_path / "short.mp4", frames[:20], fps=25)
    write_video(tmp_path / "long.mp4", frames, fps=25)
    short, long = _peak_bytes(tmp_path / "short.mp4", tmp_path / "s"), _peak_bytes(tmp_path / "long.mp4", tmp_path / "l")
    # 8x the frames; holding them (as before) would need 160 x 37 kB RGB + 159 x 98 kB float flow = 21 MB
    assert long < 1.5 * short + 200_000, (short, long)


def test_flow_dataset_skips_finished_videos(tmp_path):
    rng = np.random.default_rng(5)
    video = tmp_path / "a.mp4"
    write_video(video, replica.render_clip(rng, 6, 48, 64, (40, 40, 200), (1, 0)), fps=25)
    counts, failures = flow.extract_flow_dataset([(video, tmp_path / "out" / "a")], workers=1, progress=False)
    assert counts == {str(video): 5} and failures == []
    first = (tmp_path / "out" / "a" / "flow_x_00001.jpg").stat().st_mtime_ns
    counts, _ = flow.extract_flow_dataset([(video, tmp_path / "out" / "a")], workers=1, progress=False,
                                          skip_done=True)
    assert counts == {str(video): 5}
    assert (tmp_path / "out" / "a" / "flow_x_00001.jpg").stat().st_mtime_ns == first


def test_only_a_whole_lists_or_verify_report_says_training_can_start(tmp_path):
    # A clean download or extraction used to end "ok: training can start" although no list existed yet, and so
    # did one machine's shard of a sharded verify.
    from tsnbook.datasets.shards import Shard
    last = {step: Report("fake", step, tmp_path).summary().splitlines()[-1]
            for step in ("download", "extract", "lists", "verify")}
    assert last == dict(download="ok: no errors", extract="ok: no errors", lists="ok: training can start",
                        verify="ok: training can start")
    shard = Report("fake", "verify", tmp_path, shard=Shard.parse("1/2")).summary().splitlines()[-1]
    assert shard == "ok: no errors in this shard"


def test_all_says_no_ok_and_no_next_step_once_a_step_failed(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from tsnbook.datasets import command
    from tsnbook.datasets.report import Report

    def step(name, error=False):
        def run(root, **options):
            report = Report("fake", name, root)
            if error:
                report.problem("count", root, "no videos")
            report.note(f"next: after {name}")
            return report
        return run

    fake = SimpleNamespace(NAME="fake", DEFAULT_FRAMES="rgb", download=step("download"),
                           extract=step("extract", error=True), build_lists=step("lists"), verify=step("verify"))
    monkeypatch.setattr(command, "get", lambda name: fake)
    printed = []
    assert command.main(["fake", "all", "--root", str(tmp_path)], log=printed.append) == 1
    download, extract, lists, verify = printed
    # a clean download only says so: nothing can train before the lists exist
    assert download.endswith("\nok: no errors") and "next: after download" in download
    assert "not ok: fix the errors above" in extract
    for later in (lists, verify):
        assert "ok: training can start" not in later and "next:" not in later, later
        assert later.splitlines()[-1].endswith("no errors, but extract failed above: fix it first"), later


def test_a_variable_frame_rate_webm_is_whole_and_a_cut_one_is_not(tmp_path):
    # A screen recording or a phone's WebM/MKV has a variable frame rate: its header gives no frame count, and its
    # nominal rate times its duration promised 50 % more frames than the 40 it has, so a whole video was called
    # "truncated" and left out of the dataset. What a cut loses is the end of the stream's time.
    gaps = np.tile([20, 40, 40, 50], 10)  # ms between frames: 30 fps nominal, 40 frames over 1.5 s
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.height, stream.width, stream.pix_fmt = 48, 64, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, pts in enumerate(np.cumsum(gaps) - gaps[0]):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 6, np.uint8), format="rgb24")
            frame.pts, frame.time_base = int(pts), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    verdict = check_video(path)
    assert (verdict["kind"], verdict["frames"]) == (None, 40), verdict["reason"]
    data = path.read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[:int(len(data) * 0.6)])
    assert check_video(tmp_path / "cut.mkv")["kind"] == "truncated"
    # The header's duration is the longest stream's: a recording whose sound goes on after its last frame is whole.
    path = _vp9_webm(tmp_path / "longer_sound.webm", sound_seconds=2.4)
    verdict = check_video(path)
    assert (verdict["kind"], verdict["frames"]) == (None, 50), verdict["reason"]
    data = path.read_bytes()
    (tmp_path / "cut.webm").write_bytes(data[:int(len(data) * 0.6)])
    assert check_video(tmp_path / "cut.webm")["kind"] == "truncated"
    # A stream that starts at 3 s: FFmpeg's Matroska duration is its end from time 0 (5 s), not its length (2 s).
    verdict = check_video(_vp9_webm(tmp_path / "late_start.webm", start_seconds=3))
    assert (verdict["kind"], verdict["frames"]) == (None, 50), verdict["reason"]


def _vp9_webm(path, start_seconds=0, sound_seconds=None):
    """2 s of VP9 at 25 fps from ``start_seconds`` on, and ``sound_seconds`` of Opus from 0 (None: no sound)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libvpx-vp9", rate=25)
        audio = container.add_stream("libopus", rate=48000) if sound_seconds else None  # streams before muxing
        video.height, video.width, video.pix_fmt = 48, 64, "yuv420p"
        video.codec_context.time_base = Fraction(1, 25)
        for i in range(50):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 5, np.uint8), "rgb24")
            frame.pts, frame.time_base = start_seconds * 25 + i, Fraction(1, 25)
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if audio is not None:
            for start in range(0, int(sound_seconds * 48000), 960):
                sound = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32), format="flt", layout="mono")
                sound.sample_rate, sound.pts = 48000, start
                container.mux(audio.encode(sound))
            container.mux(audio.encode())
    return path
