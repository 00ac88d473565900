"""predict_videos / videos_features: what their ``inputs`` may be (files, folders, list files) and may not."""
import pytest
import torch

from tsnbook.batch import predict_videos
from tsnbook.features import videos_features
from tsnbook.models import TSN


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return TSN("resnet18", 3, 3).eval()


def test_one_path_instead_of_a_list_is_one_input_not_its_characters(model, small_synth):
    video = sorted((small_synth / "videos" / "RedBall").glob("*.mp4"))[0]
    for given in (str(video), video):  # a string was iterated: "video / does not exist"
        (result,) = list(predict_videos(model, given, protocol="1x1"))
        assert result["video"] == str(video) and result["scores"].shape == (3,)
        (result,) = list(videos_features(model, given, protocol="1x1"))
        assert result["features"].shape == (512,)


def test_no_inputs_at_all_is_an_error_not_an_empty_result(model):
    for function in (predict_videos, videos_features):
        with pytest.raises(ValueError, match=r"no inputs: give video files, folders or list files"):
            function(model, [])
