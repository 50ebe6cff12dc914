"""gantool's Python API (gantool.api) as a user calls it: every function, its results, its
error paths (gantool's exception types, never SystemExit, raised from the function called),
the same messages as the command line, and `import gantool` without torch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

import numpy as np
import pytest

import gantool
from gantool import GantoolError, UsageError


def _in_fresh_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_import_gantool_and_its_functions_do_not_import_torch():
    out = _in_fresh_python(
        "import sys, gantool\n"
        "names = ['train', 'report', 'sample', 'evaluate', 'game_sim', 'list', 'runs',\n"
        "         'prepare', 'train_classifier', 'open_run', 'Run', 'train_options']\n"
        "assert all(callable(getattr(gantool, n)) for n in names)\n"
        "print(sorted(m for m in ('torch', 'numpy', 'matplotlib') if m in sys.modules))")
    assert out == "[]"


def test_game_sim_runs_without_torch():
    out = _in_fresh_python("import sys, gantool\nr = gantool.game_sim(2, 2)\n"
                           "print('torch' in sys.modules, r.trajectories['simgd'].shape)")
    assert out == "False (101, 2)"


def test_train_and_report_stay_callable_after_their_packages_are_imported():
    out = _in_fresh_python(
        "import gantool, gantool.train.config, gantool.report.rundata\n"
        "import gantool.train.config as config\n"
        "import inspect\n"
        "print(callable(gantool.train), callable(gantool.report),\n"
        "      'lr_g' in inspect.signature(gantool.train).parameters,\n"
        "      config.TrainConfig.__name__)")
    assert out == "True True True TrainConfig"


def _raised_here(exc: BaseException) -> None:
    """The traceback ends at the API function the test called, not deep inside gantool."""
    frames = traceback.extract_tb(exc.__traceback__)
    assert frames[-1].name == "wrapper" and frames[-1].filename.endswith("_common.py"), \
        [f"{f.filename}:{f.name}" for f in frames]
    assert len(frames) <= 3 and exc.__suppress_context__  # the test, gantool.train(), wrapper


# ---- list, game_sim (numpy only)
def test_list_gives_the_rows_of_list_json_and_refuses_an_unknown_kind():
    games = gantool.list("game")
    assert {"bilinear", "dirac-gan"} <= {row["name"] for row in games}
    assert all(row["kind"] == "game" for row in games)
    with pytest.raises(UsageError, match="unknown kind 'gamez'; kinds are: ") as info:
        gantool.list("gamez")
    _raised_here(info.value)


def test_game_sim_holds_trajectories_verdicts_and_the_commands_output(cli_here):
    result = gantool.game_sim(2, 2, update="simgd,extragradient", steps=50)
    assert result.kind == "simulation"
    traj = result.trajectories["simgd"]
    assert traj.shape == (51, 2) and np.allclose(traj[0], [2, 2])
    assert result.distances["simgd"][-1] > result.distances["simgd"][0]  # spirals outward
    assert result.verdicts["simgd"].startswith("diverg")
    assert result.distances["extragradient"][-1] < result.distances["extragradient"][0]
    proc = cli_here("game-sim", "-u", "simgd,extragradient", "--steps", "50", "--format", "csv")
    assert proc.returncode == 0
    assert result.text("csv") == proc.stdout.decode()
    table = cli_here("game-sim", "-u", "simgd,extragradient", "--steps", "50").stdout.decode()
    assert result.text() == table and result.summary in table
    png = result.plot()._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and result._repr_png_()[:4] == b"\x89PNG"


def test_game_sim_sweeps_phase_diagrams_and_figure_files(tmp_path):
    sweep = gantool.game_sim(update="simgd", sweep_lr="0.1:1:5", steps=20)
    assert sweep.kind == "sweep" and sweep.verdicts["simgd"].shape == (5,)
    assert json.loads(sweep.text("json"))
    phase = gantool.game_sim(game="dirac-gan", regularizer="r1", update="simgd", steps=20,
                             sweep="lr=0.1:0.5:3,gamma=0.1:1:2")
    assert phase.kind == "phase" and phase.verdicts["simgd"].shape == (3, 2)
    plot = tmp_path / "xy.png"
    gantool.game_sim(2, 2, plot=str(plot))
    assert plot.read_bytes()[:4] == b"\x89PNG"
    dirac = gantool.game_sim(1, 1, game="dirac-gan", regularizer="r1", steps=300)
    assert dirac.distances["simgd"][-1] < dirac.distances["simgd"][0]  # R1 converges


@pytest.mark.parametrize(("options", "message"), [
    ({"steps": 0}, "--steps must be at least 1, got 0"),
    ({"lr": -1}, "--lr"),
    ({"update": "nope"}, "nope"),
    ({"sweep_lr": "0:1:3", "sweep": "lr=0:1:3,gamma=0:1:3"}, "cannot be combined"),
    ({"plot": "figure.txt"}, "--plot"),
])
def test_game_sim_errors_are_usage_errors(options, message):
    with pytest.raises(UsageError, match=message.replace("-", r"\-")) as info:
        gantool.game_sim(**options)
    _raised_here(info.value)


def test_game_sim_results_without_trajectories_say_why():
    sweep = gantool.game_sim(sweep_lr="0.1:1:3", steps=5)
    with pytest.raises(UsageError, match="this is a sweep"):
        sweep.trajectories  # noqa: B018


# ---- train, Run, sample, evaluate, runs, report (one tiny ring8 run)
@pytest.fixture(scope="module")
def ring8(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    run = gantool.train(dataset="ring8", steps=40, log_every=20, sample_every=20,
                        checkpoint_every=20, runs_root=str(root), name="tiny", progress=False)
    return run, root


def test_train_returns_a_run_with_its_files(ring8):
    run, root = ring8
    assert isinstance(run, gantool.Run)
    assert run.path == root / "tiny" and run.status == "finished" and run.steps == 40
    assert run.options["arch"] == "mlp2d" and run.config["seed"] == 0
    assert [r["step"] for r in run.records] == [20, 40]
    assert sorted(run.grids) == [0, 20, 40] and run.checkpoints
    assert run.grid_at(0)._repr_png_()[:4] == b"\x89PNG"
    assert run.grid_at("final").title.endswith("step 40")
    assert run.losses().size[0] > 64
    assert any("mode collapse" in m for m in run.messages)  # the failure-mode summary
    assert isinstance(run.failure_modes(), dict)
    assert "finished, 40/40 steps" in repr(run)
    assert gantool.open_run("tiny", runs_root=root).path == run.path
    with pytest.raises(UsageError, match="no grid at step 7"):
        run.grid_at(7)


def test_train_options_is_what_dry_run_prints(cli_here):
    options = gantool.train_options(dataset="ring8", steps=5, arch_opt={"width": 32})
    proc = cli_here("train", "--dataset", "ring8", "--steps", "5", "--arch-opt", "width=32",
               "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert options == json.loads(proc.stdout)
    # added to the default architecture's own (dcgan's g_width, g_extra, d_extra)
    assert gantool.train_options(arch_opt=["width=32"])["arch_options"] == {
        "g_width": 64, "g_extra": 1, "d_extra": 1, "width": 32}


@pytest.mark.parametrize(("options", "message"), [
    ({"steps": 0}, "--steps must be at least 1"),
    ({"dataset": "ring9"}, "ring9"),
    ({"lr_g": -1.0}, "--lr-g must be a positive number"),
    ({"resume": "no-such-run"}, "run directory not found: no-such-run"),
])
def test_train_refuses_bad_options_with_the_commands_message(cli_here, tmp_path, options,
                                                             message):
    with pytest.raises(UsageError) as info:
        gantool.train(runs_root=str(tmp_path), **options)
    assert message in str(info.value)
    _raised_here(info.value)
    assert not any(tmp_path.iterdir())  # nothing written
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    proc = cli_here("train", "--runs-root", str(tmp_path), *flags)
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == f"Error: {info.value}"


def test_train_options_refuses_an_unknown_option():
    with pytest.raises(UsageError, match="unknown option 'stepz'"):
        gantool.train_options(stepz=3)


def test_interrupting_train_saves_a_checkpoint_and_raises_interrupted(tmp_path):
    """SIGINT (Jupyter's stop button, Ctrl-C) stops at the end of a step with a checkpoint;
    train raises gantool.Interrupted carrying the stopped Run, which resumes."""
    first_grid = tmp_path / "stop" / "samples" / "step-000000.png"  # drawn inside the loop

    def interrupt_once_training():
        deadline = time.monotonic() + 300
        while not first_grid.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt_once_training, daemon=True)
    thread.start()
    with pytest.raises(gantool.Interrupted) as info:
        gantool.train(dataset="ring8", steps=100_000, runs_root=str(tmp_path), name="stop",
                      progress=False)
    thread.join()
    stopped = info.value.run
    assert isinstance(info.value, GantoolError) and info.value.exit_code == 130
    assert stopped.status == "stopped" and stopped.checkpoints
    assert "--resume" in str(info.value)
    done = stopped.steps  # a Run reads its files at each access: keep the number
    resumed = gantool.train(resume=str(stopped.path), steps=done + 5, progress=False)
    assert resumed.status == "finished" and resumed.steps == done + 5


def test_sample_returns_arrays_and_writes_the_commands_files(ring8, tmp_path):
    run, root = ring8
    points = gantool.sample("tiny", runs_root=root, n=100, seed=3)
    assert points.shape == (100, 2) and points.dtype == np.float32
    assert np.array_equal(points, run.sample(100, seed=3))
    out = tmp_path / "points.csv"
    again = gantool.sample(run.path, n=100, seed=3, out=out, format="csv")
    assert np.array_equal(points, again)
    assert np.allclose(np.loadtxt(out, delimiter=",", skiprows=1), points, atol=1e-4)
    assert run.grid(200)._repr_png_()[:4] == b"\x89PNG"  # a scatter plot over the modes


@pytest.mark.parametrize(("options", "message"), [
    ({"n": 0}, "--n must be at least 1"),
    ({"batch_size": 0}, "--batch-size must be at least 1"),
    ({"format": "gif"}, "unknown --format 'gif'"),
    ({"format": "png", "out": "x"}, "this model makes points, not images"),
    ({"interpolate": 2}, "--interpolate is for image models"),
])
def test_sample_errors(ring8, tmp_path, options, message):
    run, _ = ring8
    options = {**options, "out": str(tmp_path / options["out"])} if "out" in options \
        else options
    with pytest.raises(UsageError, match=message) as info:
        gantool.sample(run.path, **options)
    _raised_here(info.value)


def test_sample_of_a_missing_run_says_so(tmp_path):
    with pytest.raises(UsageError, match="does not exist; train one first"):
        gantool.sample(runs_root=tmp_path)


def test_evaluate_is_a_dict_with_its_protocol_and_compares(ring8, tmp_path):
    run, _ = ring8
    result = run.evaluate(metrics=["mode-coverage"], n=500, progress=False)
    assert isinstance(result, gantool.Evaluation)
    assert set(result) == {"modes", "high_quality", "mode_kl"}
    assert 0 <= result["modes"] <= 8 and result.scores["modes"]["total"] == 8
    assert result.protocol["n_fake"] == 500 and result.to_dict()["protocol"] == result.protocol
    assert "<table>" in result._repr_html_()
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(result.to_dict()))
    b.write_text(json.dumps(result.to_dict()))
    rows = gantool.compare(a, b)
    assert {r["metric"] for r in rows} >= {"high_quality"}
    assert all(r["difference"] in (0, None) for r in rows)


@pytest.mark.parametrize(("options", "message"), [
    ({"metrics": " , "}, "--metrics is empty"),
    ({"fake": "x.npz", "run": "r"}, "give one of --fake, --run, not several"),
    ({"n": 0}, "--n must be at least 1"),
    ({"real": "ring8", "real_stats": "s.npz"}, "give --real or --real-stats, not both"),
    ({"save_stats": "s.txt"}, "--save-stats must end in .npz"),
    ({"show_nearest": "p.png"}, "--show-nearest shows what memorization finds"),
    ({"fake": "no-such-thing.npz"}, "no-such-thing.npz"),
])
def test_evaluate_errors(options, message):
    with pytest.raises(GantoolError, match=message) as info:
        gantool.evaluate(**options)
    _raised_here(info.value)


def test_runs_and_report(ring8, tmp_path):
    run, root = ring8
    rows = gantool.runs(root)
    assert [r["name"] for r in rows] == ["tiny"] and rows[0]["status"] == "finished"
    page = gantool.report("tiny", runs_root=root, out=None)
    assert page.startswith("<!DOCTYPE html>") or "<html" in page[:200]
    out = gantool.report([run.path], out=tmp_path / "r.html")
    assert out.read_text(encoding="utf-8") .count("tiny") >= 1
    with pytest.raises(UsageError, match="exists; choose another --out"):
        gantool.report([run.path], out=tmp_path / "r.html")
    with pytest.raises(UsageError, match="--out must end in .html"):
        gantool.report([run.path], out=tmp_path / "r.txt")
    with pytest.raises(UsageError, match="runs root not found"):
        gantool.runs(tmp_path / "nothing")


def test_prepare(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (20, 1, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "set.npz", images=images)
    manifest = gantool.prepare(tmp_path / "set.npz", tmp_path / "shards", shard_size=8)
    assert manifest["count"] == 20 and len(manifest["shards"]) == 3
    with pytest.raises(UsageError, match="unknown --encoding 'gif'"):
        gantool.prepare(tmp_path / "set.npz", tmp_path / "s2", encoding="gif")
    with pytest.raises(UsageError, match="--shard-size must be a positive integer"):
        gantool.prepare(tmp_path / "set.npz", tmp_path / "s2", shard_size=0)


def test_train_classifier_on_a_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, value in (("dark", 40), ("light", 210)):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(value + rng.integers(-20, 20, (8, 8, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / name / f"{i}.png")
    result = gantool.train_classifier(dataset="folder", data_root=tmp_path / "data",
                                      out=tmp_path / "c.safetensors", epochs=1, width=4,
                                      batch_size=8)
    assert result["classes"] == ["dark", "light"] and (tmp_path / "c.safetensors").is_file()


@pytest.mark.parametrize(("options", "message"), [
    ({"dataset": "cifar"}, "--dataset must be one of mnist-5k, folder, got 'cifar'"),
    ({"dataset": "folder"}, "--dataset folder needs --data-root DIR"),
    ({"out": "d.pt"}, "--out must end in .safetensors"),
    ({"width": 2}, "--width must be in 4..512"),
    ({"holdout": 0.9}, "--holdout must be in [0, 0.5]"),
    ({"width": 8}, "go with --dataset folder"),
])
def test_train_classifier_errors(options, message):
    with pytest.raises(UsageError) as info:
        gantool.train_classifier(**options)
    assert message in str(info.value)
    _raised_here(info.value)


def test_an_os_error_becomes_a_gantool_error_with_the_commands_line(tmp_path):
    folder = tmp_path / "not-a-file.npz"
    folder.mkdir()
    with pytest.raises(GantoolError) as info:
        gantool.evaluate(fake=str(folder), real="ring8", metrics="mode-coverage")
    assert not isinstance(info.value, OSError)
