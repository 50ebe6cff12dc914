"""Recipes: registered, listed by the real CLI, made of real options and real components."""

from __future__ import annotations

import json

import pytest

from gantool import registry
from gantool.errors import UsageError
from gantool.train.config import OPTION_FIELDS, build_config
from gantool.train.recipes import recipe

NAMES = [e.name for e in registry.entries("recipe")]


def test_the_built_in_recipes_are_registered():
    assert {"lecture", "dcgan", "r3gan", "own-images"} <= set(NAMES)
    assert recipe("lecture").options["loss"] == "minimax"
    assert recipe("lecture").options["arch"] == "mlp"
    assert recipe("r3gan").options["arch"] == "r3gan"
    own = recipe("own-images").options
    assert (own["arch"], own["arch_options"], own["augment"]) == ("dcgan", {"width": 32}, True)


@pytest.mark.parametrize("name", NAMES)
def test_recipe_options_are_config_options_with_valid_values(name):
    entry = recipe(name)
    assert entry.paper and entry.description
    unknown = set(entry.options) - set(OPTION_FIELDS)
    assert not unknown, f"recipe {name!r} sets options no one defines: {unknown}"
    config = build_config({}, {"recipe": name})  # the config's own type and range checks
    assert all(getattr(config, k) == v for k, v in entry.options.items())


def test_flags_override_a_recipe_and_the_recipe_overrides_defaults():
    config = build_config({}, {"recipe": "lecture", "loss": "hinge"})
    assert config.loss == "hinge" and config.arch == "mlp" and config.recipe == "lecture"
    assert build_config({"lr_g": 1e-3}, {"recipe": "r3gan"}).lr_g == 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_recipe_components_exist_and_build(name):
    options = recipe(name).options
    registry.get("loss", options["loss"])
    size = options.get("image_size", 28)
    G, _ = registry.create("architecture", options["arch"], sample_shape=(1, size, size),
                           z_dim=options["z_dim"])
    assert G.z_dim == options["z_dim"]


def test_unknown_recipe_is_one_usage_error():
    with pytest.raises(UsageError, match=r"unknown recipe 'r3gn'.*r3gan"):
        recipe("r3gn")


def test_gantool_list_recipe(cli):
    result = cli("list", "recipe", "--json")
    assert result.returncode == 0, result.stderr.decode()
    rows = json.loads(result.stdout)
    assert {r["name"] for r in rows} == set(NAMES)
    assert all(r["kind"] == "recipe" and r["origin"] == "built-in" for r in rows)
    assert result.stderr == b""


def test_the_default_is_the_measured_dcgan_and_its_defaults_yield_to_flags():
    from gantool.train.config import build_config

    default = build_config({}, {})
    assert (default.arch, default.spectral_norm, default.ema_kimg) == ("dcgan", True, 10.0)
    # --ema replaces the architecture's default --ema-kimg instead of clashing with it
    assert (build_config({}, {"ema": 0.999}).ema_kimg, build_config({}, {"ema": 0.999}).ema) \
        == (0.0, 0.999)
    assert build_config({}, {"arch": "mlp"}).spectral_norm is False
    paper = build_config({}, {"recipe": "dcgan"})
    assert (paper.spectral_norm, paper.ema_kimg, paper.arch_options) == (False, 0.0, {"width": 64})


def test_r3gan_at_its_paper_width_on_a_cpu_says_what_fits():
    import torch

    from gantool.train.setup import cpu_cost_note

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    note = cpu_cost_note("r3gan", {}, cpu)
    assert note and "width 256 is sized for a GPU" in note and "--recipe own-images" in note
    assert "width 128" in cpu_cost_note("r3gan", {"width": 128}, cpu)
    assert cpu_cost_note("r3gan", {"width": 32}, cpu) is None
    assert cpu_cost_note("r3gan", {}, cuda) is None
    assert cpu_cost_note("dcgan", {"width": 256}, cpu) is None


def test_the_default_run_is_the_searchs_leader_and_each_option_yields_to_a_flag():
    from gantool.train.config import build_config

    default = build_config({}, {})
    assert (default.arch_options, default.loss, default.update, default.lr_g, default.lr_d,
            default.beta1, default.steps) == ({"g_width": 64, "g_extra": 1, "d_extra": 1},
                                              "hinge", "alternating", 4e-4, 9e-4, 0.0, 6000)
    # --arch-opt adds to the architecture's default options; a given one replaces its default
    assert build_config({}, {"arch_options": {"mbstd": 4}}).arch_options == {
        "g_width": 64, "g_extra": 1, "d_extra": 1, "mbstd": 4}
    assert build_config({}, {"arch_options": {"g_width": 32, "d_extra": 0}}).arch_options == {
        "g_width": 32, "g_extra": 1, "d_extra": 0}
    # --epochs replaces the default's --steps instead of clashing with it
    by_epochs = build_config({}, {"epochs": 3})
    assert (by_epochs.steps, by_epochs.epochs) == (None, 3)
    # optimistic Adam (behind alternating with these options: docs/train.md) is one flag
    # away; other architectures keep the old defaults
    assert build_config({}, {"update": "optimistic"}).update == "optimistic"
    mlp = build_config({}, {"arch": "mlp"})
    assert (mlp.loss, mlp.update, mlp.lr_g, mlp.beta1, mlp.steps, mlp.arch_options) == (
        "non-saturating", "alternating", 2e-4, 0.5, None, None)


def test_recipes_pin_what_the_default_architecture_would_otherwise_bring():
    from gantool.train.config import build_config

    for name in ("dcgan", "own-images"):
        config = build_config({}, {"recipe": name})
        assert (config.update, config.steps, config.loss) == ("alternating", 7000,
                                                              "non-saturating"), name
        assert "g_width" not in config.arch_options, name
