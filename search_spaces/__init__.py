"""Named sweeps: one YAML file each (``NAME.yaml`` beside this file), holding
the method's base config (the paper recipe), presets, the search space, the
sampler, the metric and the paper's numbers; ``extends:`` starts a sweep from
shared partial files in ``recipes/`` (not sweeps). A conditional space that YAML
cannot express names a define-by-run function in a module here."""
from search_spaces.sweep_spec import ParamSpec, SweepSpec, list_sweeps, load_sweep

__all__ = ["ParamSpec", "SweepSpec", "list_sweeps", "load_sweep"]
