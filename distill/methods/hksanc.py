"""HKSANC, hierarchical knowledge-squeezed adversarial compression (Li, Shu et
al., AAAI 2020; seed 001). A documented reconstruction: KSANC whose squeezed
knowledge is hierarchical. Ours: each stage's attention map (channel mean of
|F|^p) average-pooled to several grids (``scales``, e.g. 1x1, 2x2, 4x4), each
L2-normalised, the mean squared differences summed over scales."""
import dataclasses
from dataclasses import dataclass
from typing import List

from distill.errors import ConfigError
from distill.losses.attention_transfer import multiscale_attention_loss
from distill.methods.ksanc import KSANC
from distill.methods.registry import METHODS


@METHODS.register("hksanc")
class HKSANC(KSANC):
    @dataclass
    class Params(KSANC.Params):
        scales: List[int] = dataclasses.field(default_factory=lambda: [1, 2, 4])

        def validate(self, path: str) -> None:
            super().validate(path)
            if not self.scales or any(s < 1 for s in self.scales):
                raise ConfigError(f"{path}.scales", f"must be a non-empty list of grid sizes >= 1, got {self.scales}")

    def squeezed_loss(self, student_map, teacher_map):
        return multiscale_attention_loss(student_map, teacher_map, tuple(self.params.scales))
