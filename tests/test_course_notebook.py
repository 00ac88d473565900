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
