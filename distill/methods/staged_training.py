"""Two-stage methods (FitNet's hints, FSP's initialisation) train with their
transfer term alone for the first part of the run, then normally. The first
stage is ``ceil(fraction * epochs)`` epochs of ``train.epochs`` (at least one
when the fraction is positive), so it scales with smoke and paper presets."""
import math


def first_stage_epochs(fraction: float, epochs: int) -> int:
    return min(epochs, math.ceil(fraction * epochs)) if fraction > 0 else 0
