"""``prepare.py`` on the twelve replicas does what it did when the golden record was made: the same list files,
byte for byte, the same problems in every report, the same printed summaries (tests/datasets_golden.py says
what is recorded; `python tests/datasets_golden.py record DATASET` records a deliberate change anew)."""
import numpy as np
import pytest
from datasets_golden import DATASETS, differences, run


@pytest.fixture(autouse=True)
def flow_at_no_cost(monkeypatch):
    """Every flow field is zero here: the record holds the steps' lists, reports and file names, never a flow
    value (those: tests/test_synth_flow.py, the notebooks), and DIS on every replica frame was two thirds of this
    file's time. The algorithm is still made, so a name it does not know still fails as it would."""
    from tsnbook import flow
    made = flow.make_flow_fn

    def zero_flow(algorithm="dis"):
        made(algorithm)
        return lambda previous, following: np.zeros((*previous.shape, 2), np.float32)

    monkeypatch.setattr(flow, "make_flow_fn", zero_flow)


@pytest.mark.parametrize("name", DATASETS)
def test_every_step_on_the_replica_is_what_the_golden_record_says(name, tmp_path):
    found = differences(name, run(name, tmp_path))
    assert not found, "\n".join(found)
