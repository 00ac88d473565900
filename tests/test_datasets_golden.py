"""``prepare.py`` on the twelve replicas does what it did when the golden record was made: the same list files,
byte for byte, the same problems in every report, the same printed summaries (tests/datasets_golden.py says
what is recorded; `python tests/datasets_golden.py record DATASET` records a deliberate change anew)."""
import pytest
from datasets_golden import DATASETS, differences, run


@pytest.mark.parametrize("name", DATASETS)
def test_every_step_on_the_replica_is_what_the_golden_record_says(name, tmp_path):
    found = differences(name, run(name, tmp_path))
    assert not found, "\n".join(found)
