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
