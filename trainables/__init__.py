"""Thin Ray Tune trainables: a flat Tune config in, per-epoch metrics and
checkpoints out. All training is the engine's (``distill``)."""
