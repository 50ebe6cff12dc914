"""The resolved options of one training run: defaults, then a TOML file, then command-line flags.

Like nanoGPT's configurator: every option has a default here; a `--config FILE` (TOML whose keys are
the option names, e.g. `lr-g = 1e-4`) overrides the defaults; flags given on the command line
override the file. Unknown keys and wrong types are refused with one line naming the key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gantool import tomlfile
from gantool.errors import UsageError

DEFAULT_STEPS = 7000  # ~90 epochs of mnist-5k at batch 64 (dcgan declares its own: models/dcgan.py)
DEVICES = ("auto", "cpu", "cuda", "mps")
OPTIMIZERS = ("adam", "sgd")  # the per-player step (--optimizer); the rule is --update


@dataclass
class TrainConfig:
    # data
    dataset: str = "mnist-5k"
    data_root: str | None = None
    download: bool = False
    image_size: int | None = None
    channels: int | None = None  # 1, 3 or 4 (RGBA: an image folder's alpha kept)
    background: str | None = None  # image folders: transparency composited onto it (white)
    subset: int | None = None  # train on a seeded random N of the samples (small-data runs)
    # model and objective
    arch: str = "dcgan"
    arch_options: dict[str, Any] | None = None  # the architecture's own options (width, ...)
    loss: str = "non-saturating"  # trains well by default; "minimax" is the lecture's exact loss
    conditional: bool = False
    spectral_norm: bool = False
    z_dim: int | None = None  # None: the architecture's default (100 for images)
    r1: float = 0.0
    r2: float = 0.0
    gp: float | None = None  # None: the loss's own default (10 for wgan-gp, else off)
    reg_every: int = 1  # lazy regularisation: penalties every N D updates, N times the weight
    # optimisation
    update: str = "alternating"  # the update rule (registry kind "update")
    update_options: dict[str, Any] | None = None  # the rule's own options (gamma, k, ...)
    optimizer: str = "adam"  # each player's step inside the rule: adam or sgd
    d_steps: int = 1
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 64
    steps: int | None = None
    epochs: int | None = None
    ema: float = 0.0  # 0: off; else the decay of an EMA copy of G used for samples
    ema_kimg: float = 0.0  # 0: off; else the EMA's half-life in thousands of images (ramped)
    augment: bool = False
    ada: bool = False  # adaptive augmentation: --augment's probability p steered by r_t
    ada_target: float = 0.6
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    compile: bool = False
    recipe: str | None = None  # a named group of options (registry kind "recipe")
    # run directory and cadence
    tensorboard: bool = True  # TensorBoard event files in the run directory
    runs_root: str = "runs"
    name: str | None = None
    run_dir: str | None = None
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_last: int = 3
    log_every: int = 100
    eval_every: int | None = None  # None: off; else FID/IS/mode coverage every N steps
    eval_samples: int | None = None  # None: 2,000 on digits, 2,500 on 2-D mixtures

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# The options a TOML file may set (everything except bookkeeping).
OPTION_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
# What may differ on --resume: cadence and how far to go, never what is being trained.
RESUMABLE = {"steps", "epochs", "sample_every", "checkpoint_every", "keep_last", "log_every",
             "compile", "device", "data_root", "download", "runs_root", "tensorboard",
             "eval_every", "eval_samples"}


def option_name(key: str) -> str:
    return key.replace("_", "-")


def _field_key(key: str) -> str:
    return key.replace("-", "_")


def _check_type(key: str, value: Any) -> Any:
    """Coerce `value` to the declared type of option `key`, or refuse it."""
    declared = str(OPTION_FIELDS[key].type)
    optional = "None" in declared
    if value is None:
        if optional:
            return None
        raise UsageError(f"option {option_name(key)!r} cannot be empty")
    if declared.startswith("dict"):
        if isinstance(value, dict) and all(isinstance(k, str) for k in value) and all(
                isinstance(v, (bool, int, float, str)) for v in value.values()):
            return dict(value)
        raise UsageError(f"option {option_name(key)!r} must be a table of names to numbers, "
                         f"strings or booleans, not {value!r}")
    if declared.startswith("bool"):
        if isinstance(value, bool):
            return value
        raise UsageError(f"option {option_name(key)!r} must be true or false, not {value!r}")
    if declared.startswith("int"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise UsageError(f"option {option_name(key)!r} must be an integer, not {value!r}")
    if declared.startswith("float"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise UsageError(f"option {option_name(key)!r} must be a number, not {value!r}")
    if isinstance(value, str):
        return value
    raise UsageError(f"option {option_name(key)!r} must be a string, not {value!r}")


def parse_assignments(items: list[str], flag: str) -> dict[str, Any]:
    """["width=128", "d_batch_norm=false"] -> {"width": 128, "d_batch_norm": False}: values are
    read as TOML values where they parse (numbers, true/false, "quoted"), else kept as text."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"{flag} takes KEY=VALUE with KEY a plain name, not {item!r}")
        try:
            options[key] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            options[key] = text.strip()
    return options


def read_toml(path: str | Path) -> dict[str, Any]:
    """The options in a TOML file, keys as field names; unknown keys are refused."""
    raw = tomlfile.read_toml(path, "config file")
    options = {}
    for key, value in raw.items():
        name = _field_key(key)
        if name not in OPTION_FIELDS:
            known = ", ".join(sorted(option_name(k) for k in OPTION_FIELDS))
            raise UsageError(f"unknown key {key!r} in {path}; known keys: {known}")
        if isinstance(value, dict) and not str(OPTION_FIELDS[name].type).startswith("dict"):
            raise UsageError(f"key {key!r} in {path} must be a value, not a table")
        options[name] = _check_type(name, value)
    return options


def component_defaults(kind: str, name: str) -> dict[str, Any]:
    """The training defaults a registered dataset or architecture declares (see registry)."""
    from gantool import registry

    defaults = registry.get(kind, name).defaults
    unknown = [k for k in defaults if k not in OPTION_FIELDS]
    if unknown:
        raise UsageError(f"{kind} {name!r} declares unknown training defaults: {unknown}")
    return defaults


def recipe_options(name: str | None) -> dict[str, Any]:
    """The options a recipe sets (none for no recipe), checked against the known options."""
    if name is None:
        return {}
    from gantool.train.recipes import recipe

    options = dict(recipe(name).options)
    unknown = [k for k in options if k not in OPTION_FIELDS]
    if unknown:
        raise UsageError(f"recipe {name!r} sets unknown options: {', '.join(unknown)}")
    return {"recipe": name, **options}


def build_config(file_options: dict[str, Any], cli_options: dict[str, Any]) -> TrainConfig:
    """Defaults <- the dataset's and then the architecture's declared defaults <- file options
    <- command-line options (None means 'not given'); arch_options merge key by key."""
    recipe = recipe_options(cli_options.get("recipe") or file_options.get("recipe"))
    dataset = (cli_options.get("dataset") or file_options.get("dataset")
               or recipe.get("dataset") or TrainConfig.dataset)
    merged: dict[str, Any] = {"dataset": dataset,
                              **component_defaults("dataset", dataset)}
    arch = (cli_options.get("arch") or file_options.get("arch") or recipe.get("arch")
            or merged.get("arch", TrainConfig.arch))
    merged.update({"arch": arch, **component_defaults("architecture", arch)})
    merged.update({k: v for k, v in recipe.items() if k not in ("dataset", "arch")})
    given = {k for source in (file_options, cli_options) for k, v in source.items()
             if v is not None}
    for one, other in (("ema", "ema_kimg"), ("ema_kimg", "ema"), ("epochs", "steps")):
        if one in given and other not in given:  # --ema replaces a default --ema-kimg
            merged.pop(other, None)
    for source in (file_options, cli_options):
        for key, value in source.items():
            if key not in OPTION_FIELDS:
                raise UsageError(f"unknown option {option_name(key)!r}")
            if value is None:
                continue
            value = _check_type(key, value)
            if key == "arch_options":  # --arch-opt width=48 keeps the other defaults' options
                value = {**(merged.get(key) or {}), **value}
            merged[key] = value
    config = TrainConfig(**merged)
    validate(config)
    config.update = _rule_name(config.update)
    return config


def _rule_name(name: str) -> str:
    """The registered name of an update rule given by either command's spelling (simgd is
    simultaneous: gantool/rules.py), so config.json and checkpoints hold one name; an unknown
    name is left for the command to refuse with the known ones."""
    from gantool import registry

    try:
        return registry.get("update", name).name
    except UsageError:
        return name


def validate(c: TrainConfig) -> None:
    """Refuse values that cannot train (one line naming the option)."""
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise UsageError(message)

    for key in ("batch_size", "d_steps", "sample_every", "checkpoint_every", "log_every",
                "reg_every"):
        need(getattr(c, key) >= 1, f"--{option_name(key)} must be at least 1")
    need(c.keep_last >= 1, "--keep-last must be at least 1")
    need(c.eval_every is None or c.eval_every >= 1,
         f"--eval-every must be at least 1 (evaluate every N steps), got {c.eval_every}; "
         "leave it out to train without in-training evaluation")
    need(c.eval_samples is None or c.eval_samples >= 10,
         f"--eval-samples must be at least 10 (IS uses 10 splits), got {c.eval_samples}")
    need(c.eval_samples is None or c.eval_every is not None,
         "--eval-samples sets how many samples --eval-every draws: give --eval-every N too")
    for key in ("lr_g", "lr_d"):
        value = getattr(c, key)
        need(math.isfinite(value) and value > 0, f"--{option_name(key)} must be a positive number")
    for key in ("beta1", "beta2"):
        need(0.0 <= getattr(c, key) < 1.0, f"--{key} must be in [0, 1)")
    need(0.0 <= c.ema < 1.0, "--ema must be a decay in [0, 1) (0 turns it off)")
    need(math.isfinite(c.ema_kimg) and c.ema_kimg >= 0,
         "--ema-kimg must be a half-life in thousands of images >= 0 (0 turns it off)")
    need(not (c.ema and c.ema_kimg), "give --ema or --ema-kimg, not both")
    need(0.0 < c.ada_target < 1.0, "--ada-target must be in (0, 1)")
    need(math.isfinite(c.r1) and c.r1 >= 0, "--r1 must be a non-negative number")
    need(math.isfinite(c.r2) and c.r2 >= 0, "--r2 must be a non-negative number")
    need(c.gp is None or (math.isfinite(c.gp) and c.gp >= 0), "--gp must be a non-negative number")
    need(c.steps is None or c.steps >= 1, "--steps must be at least 1")
    need(c.epochs is None or c.epochs >= 1, "--epochs must be at least 1")
    need(c.steps is None or c.epochs is None, "give --steps or --epochs, not both")
    need(c.z_dim is None or c.z_dim >= 1, "--z-dim must be at least 1")
    need(c.image_size is None or c.image_size >= 4, "--image-size must be at least 4")
    need(c.channels in (None, 1, 3, 4), "--channels must be 1, 3 or 4")
    if c.background is not None:
        from gantool.pictures import parse_colour

        parse_colour(c.background, "--background")
    need(c.subset is None or c.subset >= 1, "--subset must be at least 1 (samples to train on)")
    need(c.device in DEVICES, f"--device must be one of: {', '.join(DEVICES)}")
    need(c.optimizer in OPTIMIZERS, f"--optimizer must be one of: {', '.join(OPTIMIZERS)} "
         f"(the per-player step; the update rule is --update), not {c.optimizer!r}")
    need("d_steps" not in (c.update_options or {}),
         "give D's steps per G step with --d-steps, not --update-opt d_steps")
    need(c.seed >= 0, "--seed must be non-negative")
    need(not (c.name and c.run_dir), "give --name or --run-dir, not both")
    if c.name is not None:
        need(c.name not in ("", ".", "..", "latest") and "/" not in c.name,
             f"--name {c.name!r} must be a plain directory name (not 'latest')")


def resume_config(saved: dict[str, Any], overrides: dict[str, Any], run_dir: Path) -> TrainConfig:
    """The saved run's options with the few that may change on --resume overridden.

    What is trained (dataset, architecture, loss, learning rates, seed, ...) comes from the run;
    giving a different value for it is refused rather than silently ignored.
    """
    options = {k: v for k, v in saved.items() if k in OPTION_FIELDS}
    options["epochs"] = None  # the saved `steps` is the resolved total
    for key, value in overrides.items():
        if value is None or key in ("run_dir", "name"):
            continue
        if key == "update":
            value = _rule_name(_check_type(key, value))
        if key not in RESUMABLE and options.get(key) != _check_type(key, value):
            raise UsageError(f"--{option_name(key)} cannot change when resuming {run_dir} "
                             f"(it was {options.get(key)!r}); start a new run instead")
        options[key] = value
    if overrides.get("epochs") is not None:
        options["steps"] = None  # epochs given now: recompute the total from them
    elif overrides.get("steps") is not None:
        options["epochs"] = None
    options["run_dir"], options["name"] = None, None
    config = build_config({}, options)
    # The saved options are already resolved: a run from before a default gained architecture
    # options (dcgan's g_width, g_extra, d_extra) must rebuild the networks it saved.
    config.arch_options = options.get("arch_options") or {}
    return config
