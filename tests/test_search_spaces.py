"""Sweep files load and validate; grids enumerate each configuration once;
the define-by-run space honours conditions."""
import optuna
import pytest
import yaml

from distill.config import apply_overrides, config_from_dict
from distill.errors import ConfigError
from search_spaces import list_sweeps, load_sweep
from search_spaces.define_by_run import SpaceFunction
from search_spaces.grid import ablation_variants, grid_variants
from trainables.trial_config import BASE_KEY, VARIANT_KEY, resolve_trial_config
from search_spaces.sweep_spec import ParamSpec


def test_every_shipped_sweep_loads_with_a_description():
    sweeps = list_sweeps()
    assert {"dml_smoke", "kd_temperature"} <= set(sweeps)
    for name, description in sweeps.items():
        spec = load_sweep(name)
        assert description and "smoke" in spec.presets and "paper" in spec.presets


@pytest.mark.parametrize("name", sorted(list_sweeps()))
def test_every_point_resolves_to_a_valid_engine_config(name):
    spec = load_sweep(name)
    for preset_name, preset in spec.presets.items():
        base = apply_overrides(spec.base, list(preset.set.items()))
        if base.get("teacher"):
            base["teacher"]["checkpoint"] = "unused.pt"
        for variant in ablation_variants(spec, preset_name) if spec.points_for(preset_name) else []:
            config_from_dict(resolve_trial_config({BASE_KEY: base, VARIANT_KEY: variant}))


def test_kd_temperature_space_matches_the_issue():
    space = load_sweep("kd_temperature").space
    assert (space["method.temperature"].low, space["method.temperature"].high) == (1.0, 20.0)
    assert (space["method.alpha"].low, space["method.alpha"].high) == (0.05, 0.99)


def conditional_space():
    return {
        "disc.kind": ParamSpec(type="categorical", choices=["mlp", "none"]),
        "disc.depth": ParamSpec(type="int", low=1, high=3, when={"disc.kind": "mlp"}),
        "method.temperature": ParamSpec(type="categorical", choices=[1, 4]),
    }


def test_grid_enumerates_conditional_space_exactly_once():
    variants = grid_variants(conditional_space())
    # mlp x 3 depths x 2 temperatures + none x 2 temperatures, no depth for "none"
    assert len(variants) == 8
    assert len({tuple(sorted(v.items())) for v in variants}) == 8
    assert all("disc.depth" not in v for v in variants if v["disc.kind"] == "none")


def test_define_by_run_skips_inactive_parameters():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen_kinds = set()
    for _ in range(20):
        trial = study.ask()
        SpaceFunction(conditional_space())(trial)
        seen_kinds.add(trial.params["disc.kind"])
        assert ("disc.depth" in trial.params) == (trial.params["disc.kind"] == "mlp")
        study.tell(trial, 0.0)
    assert seen_kinds == {"mlp", "none"}


def write_sweep(tmp_path, body):
    path = tmp_path / "bad.yaml"
    path.write_text(body if isinstance(body, str) else yaml.safe_dump(body))
    return str(path)


@pytest.mark.parametrize("body, field", [
    ("base: [unclosed", "sweep"),
    ({"base": {}, "metric": "val_acc.net0"}, "presets"),
    ({"base": {}, "metric": "m", "presets": {"smoke": {}}, "sampler": "bayes"}, "sampler"),
    ({"base": {}, "metric": "m", "presets": {"smoke": {}}, "space": {"x": {"type": "float", "low": 2, "high": 1}}}, "space.x"),
    ({"base": {}, "metric": "m", "presets": {"smoke": {}}, "space": {"x": {"type": "categorical"}}}, "space.x.choices"),
    ({"base": {}, "metric": "m", "presets": {"smoke": {}}, "sampler": "grid", "space": {"x": {"type": "float", "low": 1, "high": 2}}}, "space.x"),
])
def test_bad_sweep_files_name_the_field(tmp_path, body, field):
    with pytest.raises(ConfigError) as err:
        load_sweep(write_sweep(tmp_path, body))
    assert err.value.field == field


def test_unknown_sweep_lists_the_known_ones():
    with pytest.raises(ConfigError, match="dml_smoke"):
        load_sweep("no_such_sweep")


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ConfigError, match="paper, smoke"):
        load_sweep("dml_smoke").preset("huge")
