"""A method on networks that lack what it needs fails at validation, before any
training (the driver runs the same ``validate_run`` on every variant before Ray),
with one line naming the field."""
import pytest
import torch
from torch import nn

from distill.config import config_from_dict
from distill.errors import ConfigError
from distill.models import MODELS, build_model
from distill.validation import validate_run


class StagelessNet(nn.Module):
    """A plain MLP: logits and an embedding, no stages (like the HintonNet of seed 003)."""
    stage_channels = ()
    stem_channels = 0

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.embedding_dim = 32
        self.body = nn.Sequential(nn.Flatten(), nn.LazyLinear(32), nn.ReLU())
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        return self.fc(self.body(x))


if "test_stageless_mlp" not in MODELS:
    MODELS.register("test_stageless_mlp")(StagelessNet)


def config(method, student="resnet8", teacher="resnet14", checkpoint=None):
    raw = {"method": method, "networks": [{"name": "student", "arch": student}],
           "data": {"name": "digits"}, "train": {"epochs": 1, "device": "cpu"}}
    if teacher:
        raw["teacher"] = {"name": "teacher", "arch": teacher, "checkpoint": checkpoint}
    return raw


def one_line_error(raw, check_files=False):
    with pytest.raises(ConfigError) as info:
        validate_run(config_from_dict(raw), check_files=check_files)
    message = str(info.value)
    assert "\n" not in message
    return info.value


def test_fsp_between_stages_of_unequal_channels():
    err = one_line_error(config({"name": "fsp"}, student="resnet8", teacher="wrn_16_2"))
    assert err.field == "teacher.arch" and "equal channels" in str(err)


def test_fsp_with_matching_channels_passes():
    validate_run(config_from_dict(config({"name": "fsp"}, student="resnet8", teacher="resnet14")), check_files=False)


def test_fitnet_on_a_network_without_stages():
    err = one_line_error(config({"name": "fitnet"}, student="test_stageless_mlp"))
    assert err.field == "method.hint_stage" and "no stages" in str(err)


def test_fitnet_hint_stage_out_of_range():
    err = one_line_error(config({"name": "fitnet", "hint_stage": 5}))
    assert err.field == "method.hint_stage" and "allowed" in str(err)


@pytest.mark.parametrize("method", ["at", "sp", "ksanc"])
def test_stage_index_out_of_range(method):
    err = one_line_error(config({"name": method, "stages": [7]}))
    assert err.field == "method.stages"


def test_teacher_with_another_class_count(tmp_path):
    path = tmp_path / "teacher5.pt"
    torch.save(build_model("resnet14", 5, in_channels=1).state_dict(), path)
    err = one_line_error(config({"name": "kd"}, checkpoint=str(path)), check_files=True)
    assert err.field == "teacher.checkpoint" and "10 classes" in str(err) and str(path) in str(err)


def test_teacher_of_another_architecture(tmp_path):
    path = tmp_path / "teacher.pt"
    torch.save(build_model("resnet8", 10, in_channels=1).state_dict(), path)
    err = one_line_error(config({"name": "kd"}, teacher="resnet14", checkpoint=str(path)), check_files=True)
    assert err.field == "teacher.checkpoint"


def test_method_needing_a_teacher_without_one():
    err = one_line_error(config({"name": "at"}, teacher=None))
    assert err.field.startswith("teacher")
