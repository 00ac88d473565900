"""tsnbook.course.notebook: the helpers every dataset notebook uses."""
import pytest

from tsnbook.course.notebook import check_claims, full_mode_commands, read_report, zoo_rows, zoo_table


def test_zoo_rows_and_table_come_from_the_configs():
    assert [name for name, _ in zoo_rows("HMDB51")] == [
        "tsn_r50_1x1x8_50e_hmdb51_imagenet_rgb", "tsn_r50_1x1x8_50e_hmdb51_kinetics400_rgb",
        "tsn_r50_1x1x8_50e_hmdb51_mit_rgb"]
    assert {cfg["zoo"]["dataset"] for _, cfg in zoo_rows("Kinetics")} == {"Kinetics-400", "Kinetics-600",
                                                                          "Kinetics-700"}
    table = zoo_table(zoo_rows("HMDB51")).splitlines()
    assert table[0].startswith("| config | top-1 | top-5 |") and len(table) == 5
    assert "| 48.95 | 80.19 | 8 | rawframes |" in table[2] and "8x1@256" in table[2] and "Kinetics400" in table[3]
    assert zoo_table(zoo_rows("HVU")).splitlines()[0].startswith("| config | mAP |")
    something = zoo_table(zoo_rows("Something-Something V1")).splitlines()
    assert something[0].startswith("| config | top-1 | top-5 | reference top-1 / top-5 | frames |")
    assert "| 18.55 | 44.80 | 17.53 / 44.29 | 8 |" in something[2]


def test_claims_print_what_holds_and_fail_on_what_does_not(capsys):
    check_claims({"two streams beat one": True})
    assert capsys.readouterr().out == "yes  two streams beat one\n"
    with pytest.raises(AssertionError, match="claims that do not hold: \\['flow alone wins'\\]"):
        check_claims({"flow alone wins": False, "rgb sees colour": True})
    assert "NO   flow alone wins" in capsys.readouterr().out


def test_full_mode_commands_name_the_row_and_its_checkpoint():
    text = full_mode_commands("tsn_r18_1x1x8_100e_hvu_action_rgb", data_root="/data/hvu")
    assert "torchrun --nproc_per_node 8 -m tsnbook train tsn_r18_1x1x8_100e_hvu_action_rgb" in text
    assert "--eval mean_average_precision --cfg-options data_root=/data/hvu" in text
    assert "checkpoints/tsn_r18_1x1x8_100e_hvu_action_rgb_20201027-011b282b.pth" in text


def test_full_mode_commands_take_a_split_and_a_work_dir():
    text = full_mode_commands("tsn_r50_1x1x3_75e_ucf101_rgb", options={"ann_file_train": "x.txt"},
                              work_dir="work_dirs/ucf_split2")
    assert "train tsn_r50_1x1x3_75e_ucf101_rgb --work-dir work_dirs/ucf_split2 --validate" in text
    assert text.count("--cfg-options ann_file_train=x.txt") == 4
    assert "test tsn_r50_1x1x3_75e_ucf101_rgb work_dirs/ucf_split2/latest.pth" in text


def test_full_mode_commands_choose_no_checkpoint_on_the_test_list():
    # The row validates on the list it is tested on (UCF101's official test list): best.pth would be chosen on
    # the test videos, so the run is tested once, at the end of its schedule, and the text says why.
    text = full_mode_commands("tsn_r50_1x1x3_75e_ucf101_rgb")
    assert "work_dirs/tsn_r50_1x1x3_75e_ucf101_rgb/latest.pth" in text and "best.pth" not in text.replace(
        "so best.pth", "")
    assert "ucf101_val_split_1_rawframes.txt" in text and "held out" in text
    # With a validation list of its own, best.pth (chosen on it) is tested on the test list, once.
    text = full_mode_commands("tsn_r50_1x1x3_75e_ucf101_rgb", options={"ann_file_val": "my_val.txt"})
    assert "work_dirs/tsn_r50_1x1x3_75e_ucf101_rgb/best.pth" in text and "latest.pth" not in text


def test_full_mode_commands_of_a_flow_row_extract_tvl1_flow_first():
    lines = full_mode_commands("tsn_r50_320p_1x1x3_110e_kinetics400_flow").splitlines()
    extract = [i for i, line in enumerate(lines) if line.startswith("python data_scripts/prepare.py")]
    train = [i for i, line in enumerate(lines) if " -m tsnbook train " in line]
    assert len(extract) == 2 and extract[1] < min(train)
    assert lines[extract[0]] == ("python data_scripts/prepare.py kinetics400 extract --root data/kinetics400 "
                                 "--frames flow --resolution short320 --flow-algorithm tvl1")
    assert lines[extract[1]] == "python data_scripts/prepare.py kinetics400 lists --root data/kinetics400"
    anet = full_mode_commands("tsn_r50_320p_1x1x8_150e_activitynet_video_flow", data_root="/d/anet")
    assert "prepare.py activitynet extract --root /d/anet --frames flow --flow-algorithm tvl1" in anet
    rgb = full_mode_commands("tsn_r50_1x1x3_100e_kinetics400_rgb").splitlines()  # 15 and 16 print [1] and [-1]
    assert rgb[1].startswith("torchrun ") and "checkpoints/" in rgb[-1] and "--flow-algorithm" not in "".join(rgb)


def test_read_report_parses_what_report_write_writes(tmp_path):
    from tsnbook.datasets.report import Report

    report = Report("ucf101", "verify", tmp_path)
    report.count("split 1 train videos", published=9537, annotated=16, on_disk=14, written=15)
    report.problem("missing", tmp_path / "videos" / "a.avi", "listed at x:1, not on disk")
    report.problem("count", tmp_path / "annotations", "16 videos where 9,537", "warning")
    report.write()
    title, table, problems = read_report(tmp_path)
    assert title == "ucf101 verify: not ok" and "| split 1 train videos | 9,537 | 16 | 14 | 15 |" in table
    assert [(p["severity"], p["kind"]) for p in problems] == [("error", "missing"), ("warning", "count")]
    assert problems[0]["path"] == str(tmp_path / "videos" / "a.avi")


def test_train_cached_reuses_a_run_only_of_exactly_the_same_config(tmp_path, small_synth):
    from conftest import small_config
    from tsnbook.course.notebook import finished_run, train_cached
    cfg = small_config("rgb", small_synth, epochs=1)
    checkpoint, reused = train_cached(cfg, tmp_path / "run", device="cpu")
    assert checkpoint == tmp_path / "run" / "latest.pth" and not reused and finished_run(cfg, tmp_path / "run")
    before = checkpoint.read_bytes()
    assert train_cached(cfg, tmp_path / "run", device="cpu") == (checkpoint, True)
    assert checkpoint.read_bytes() == before  # nothing retrained
    other = dict(cfg, seed=1)
    assert not finished_run(other, tmp_path / "run")
    assert train_cached(other, tmp_path / "run", device="cpu") == (checkpoint, False)  # replaced, not resumed
    assert checkpoint.read_bytes() != before and finished_run(other, tmp_path / "run")
    assert not finished_run(dict(other, epochs=2), tmp_path / "run")  # an unfinished run of that config


def test_markdown_table_aligns_numbers_right_and_escapes_pipes():
    from tsnbook.course.notebook import markdown_table
    table = markdown_table(["name", "views", "note"], [["25x10", 250, "a|b"], ["val", 3, ""]])
    assert table.splitlines() == ["| name | views | note |", "|:--|--:|:--|", "| 25x10 | 250 | a\\|b |",
                                  "| val | 3 |  |"]
    assert markdown_table(["a", "b"], [[1, 2]], align="cl").splitlines()[1] == "|:-:|:--|"
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        markdown_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="align needs one of l, c, r per column"):
        markdown_table(["a", "b"], [[1, 2]], align="x")


def test_an_exercise_check_says_right_not_yet_or_not_answered_and_never_raises(capsys):
    from tsnbook.course.exercises import check
    assert check(None, lambda a: a == 8, hint="clips x crops", name="1") is None
    assert check(8, lambda a: a == 8, hint="clips x crops", name="1") is True
    assert check(7, lambda a: a == 8, hint="clips x crops", name="1") is False
    assert check("x", lambda a: a + 1 == 8, hint="a number", name="2") is False  # TypeError caught, not raised
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "1: not answered yet - hint: clips x crops"
    assert printed[1:3] == ["1: right", "1: not yet - hint: clips x crops"]
    assert printed[3].startswith("2: not yet - TypeError: ") and printed[3].endswith("hint: a number")


def test_skips_summarised_prints_one_line_per_run_and_everything_else(capsys):
    from tsnbook.course.notebook import skips_summarised
    with skips_summarised():
        print("linear lr scaling: lr 0.01")
        for epoch in (1, 2, 4):
            print(f"warning: skipped 1 unusable video(s) in epoch {epoch}, listed in runs/a/log.jsonl")
        print("warning: skipped 2 unusable video(s) in epoch 1, 1 of them by an unexpected error, listed in b.jsonl")
        print("warning: skipped 2 unusable video(s) in epoch 1, listed in runs/b/log.jsonl")
    assert capsys.readouterr().out.splitlines() == [
        "linear lr scaling: lr 0.01",
        "warning: skipped 2 unusable video(s) in epoch 1, 1 of them by an unexpected error, listed in b.jsonl",
        "warning: skipped 1 unusable video(s) in epochs 1, 2, 4, listed in runs/a/log.jsonl",
        "warning: skipped 2 unusable video(s) in epoch 1, listed in runs/b/log.jsonl"]
    with pytest.raises(RuntimeError), skips_summarised():
        print("warning: skipped 1 unusable video(s) in epoch 1, listed in c.jsonl")
        raise RuntimeError("training failed")
    assert capsys.readouterr().out == "warning: skipped 1 unusable video(s) in epoch 1, listed in c.jsonl\n"
