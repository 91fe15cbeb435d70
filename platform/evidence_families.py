"""The method families the evidence command runs, each one sweep's ``evidence_tune`` and
``evidence`` presets on real data (Fashion-MNIST), and the sizes it runs them at."""
from dataclasses import dataclass, field
from typing import Dict, List


TUNE_PRESET, TABLE_PRESET = "evidence_tune", "evidence"


@dataclass(frozen=True)
class Family:
    name: str
    sweep: str
    title: str
    tune_preset: str = TUNE_PRESET
    table_preset: str = TABLE_PRESET


FAMILIES: Dict[str, Family] = {f.name: f for f in (
    Family("logit", "tadml_pairs", "Logit and online distillation"),
    Family("offline", "compression", "Offline teacher: features, attention, adversarial"),
    # FSP's Gram matrices of unnormalised maps explode on LeNet (no BatchNorm): a residual pair for it
    Family("offline_residual", "compression", "Offline teacher on residual stages: FSP",
           "evidence_residual_tune", "evidence_residual"),
    Family("self_distill", "self_distill", "Self-distillation"),
    Family("data_free", "dafl", "Data-free distillation"),
    Family("metric", "darkrank", "Metric learning: rankings and similarities"),
)}


@dataclass(frozen=True)
class Size:
    """``full`` runs the presets as written; ``smoke`` shrinks every step (the same pipeline
    on the real files) so a family takes a few minutes: ``set`` is applied to every trial
    (tuning and table), ``draws`` replaces the presets' draws per row."""
    seeds: int
    draws: int = 0                                   # 0: the preset's
    set: List[str] = field(default_factory=list)


SIZES: Dict[str, Size] = {
    "full": Size(seeds=3),
    "smoke": Size(seeds=2, draws=2, set=["train.epochs=1", "data.train_subset=500", "data.val_subset=500"]),
}
