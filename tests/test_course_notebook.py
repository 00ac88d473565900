"""tsnbook.course.notebook: the helpers every dataset notebook uses."""
import pytest

from tsnbook.course.notebook import check_claims, full_mode_commands, zoo_rows, zoo_table


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
