"""`gantool game-sim` run for real as a subprocess: outputs parse, stdout stays clean, errors are
one line with exit 2, and the command starts without torch. Of the many bad inputs, one per
list runs as a real process and the rest through the command's main() here (cli_here)."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import pytest
from PIL import Image

OPTIMIZERS = "simgd,altgd,ogda,extragradient,consensus,negative-momentum,adam,flow"


def ok(result) -> str:
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    return result.stdout.decode()


def test_lecture_example_table(cli):
    result = cli("game-sim", "--x", "2", "--y", "2", env={"COLUMNS": "200"})
    out = ok(result)
    assert result.stderr == b""
    assert "simgd" in out and "diverges" in out
    assert "does not converge" in out
    assert "sqrt(1 + lr^2) = 1.00499" in out
    assert "2.828 -> 4.652 in 100 steps" in out


def test_lecture_example_csv_is_the_hand_computed_steps(cli):
    result = cli("game-sim", "--x", "2", "--y", "2", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(ok(result))))
    assert result.stderr == b""
    assert list(rows[0]) == ["optimizer", "step", "x", "y"]
    assert len(rows) == 101
    x, y = 2.0, 2.0
    for row in rows:
        assert row["optimizer"] == "simgd"
        assert float(row["x"]) == pytest.approx(x, rel=1e-12, abs=1e-12)
        assert float(row["y"]) == pytest.approx(y, rel=1e-12, abs=1e-12)
        x, y = x + 0.1 * y, y - 0.1 * x  # dx = +lr dV/dx, dy = -lr dV/dy on V = x*y
    final = math.hypot(float(rows[-1]["x"]), float(rows[-1]["y"]))
    assert final == pytest.approx(math.sqrt(8) * (1 + 0.1**2) ** 50, rel=1e-12)


def test_csv_compares_every_optimizer_and_nothing_else_is_on_stdout(cli):
    result = cli("game-sim", "-o", OPTIMIZERS, "--steps", "30", "--format", "csv")
    rows = list(csv.reader(io.StringIO(ok(result))))
    assert rows[0] == ["optimizer", "step", "x", "y"]
    body = rows[1:]
    assert len(body) == 8 * 31
    assert [r[0] for r in body[::31]] == OPTIMIZERS.split(",")
    assert all(len(r) == 4 and all(math.isfinite(float(v)) for v in r[1:]) for r in body)


def test_csv_for_a_matrix_game_has_one_column_per_coordinate(cli):
    result = cli("game-sim", "--game", "matrix", "--matrix", "1,2,0;0,1,3", "--x", "1,-1",
                 "--y", "0.5", "--steps", "5", "--format", "csv")
    rows = list(csv.reader(io.StringIO(ok(result))))
    assert rows[0] == ["optimizer", "step", "x0", "x1", "y0", "y1", "y2"]
    assert rows[1] == ["simgd", "0", "1.0", "-1.0", "0.5", "0.5", "0.5"]
    # One simgd step: x += lr A y, y -= lr A^T x.
    assert [float(v) for v in rows[2][2:]] == pytest.approx(
        [1 + 0.1 * 1.5, -1 + 0.1 * 2.0, 0.5 - 0.1 * 1, 0.5 - 0.1 * 1, 0.5 + 0.1 * 3])


def test_json_is_one_document_with_the_summary(cli):
    result = cli("game-sim", "-o", "simgd,extragradient,flow", "--format", "json")
    doc = json.loads(ok(result))
    assert doc["game"]["name"] == "bilinear"
    assert doc["start"] == {"x": 2.0, "y": 2.0}
    runs = {r["name"]: r for r in doc["optimizers"]}
    assert runs["simgd"]["verdict"] == "diverges"
    assert runs["simgd"]["spectral_radius"] == pytest.approx(math.sqrt(1.01))
    assert runs["extragradient"]["verdict"] == "converges"
    assert runs["flow"]["verdict"] == "cycles"
    assert len(runs["flow"]["trajectory"]) == 101
    assert "does not converge" in doc["summary"]


def test_dirac_gan_json_r1_converges_where_unregularised_does_not(cli):
    docs = []
    for extra in ([], ["--regularizer", "r1", "--gamma", "1"]):
        result = cli("game-sim", "--game", "dirac-gan", "--x", "1", "--y", "1", "--steps", "1500",
                     "--format", "json", *extra)
        docs.append(json.loads(ok(result))["optimizers"][0])
    plain, r1 = docs
    assert plain["verdict"] != "converges" and plain["spectral_radius"] > 1
    assert r1["verdict"] == "converges" and r1["spectral_radius"] < 1
    assert r1["steps_to_tol"] is not None


def test_sweep_csv_and_json(cli):
    result = cli("game-sim", "-o", "simgd,ogda", "--sweep-lr", "0.1:1:10", "--steps", "400",
                 "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(ok(result))))
    assert list(rows[0]) == ["optimizer", "lr", "final_distance", "spectral_radius", "verdict"]
    assert len(rows) == 20
    for row in rows:
        rho = float(row["spectral_radius"])
        if row["optimizer"] == "simgd":
            assert rho == pytest.approx(math.sqrt(1 + float(row["lr"]) ** 2))
            assert row["verdict"] == "diverges"
        else:  # OGDA on x*y contracts iff lr < 1/sqrt(3)
            assert (rho < 1) == (float(row["lr"]) < 1 / math.sqrt(3))
    result = cli("game-sim", "-o", "ogda", "--sweep-lr", "0.1:1:10", "--format", "json")
    [ogda] = json.loads(ok(result))["optimizers"]
    assert ogda["converging_lr"] == [[0.1, pytest.approx(0.5)]]


def test_sweep_table_and_plot(cli, tmp_path):
    target = tmp_path / "sweep.png"
    result = cli("game-sim", "-o", "simgd,extragradient", "--sweep-lr", "0.05:1.2:24",
                 "--plot", str(target), env={"COLUMNS": "200"})
    out = ok(result)
    assert "extragradient converges for lr in [0.05, 0.95]" in out
    with Image.open(target) as image:
        assert image.format == "PNG" and image.width > 500


def test_an_existing_plot_is_kept_unless_force(cli, tmp_path):
    target = tmp_path / "xy.png"
    target.write_bytes(b"precious")
    result = cli("game-sim", "--steps", "5", "--plot", str(target))
    assert result.returncode == 2
    expected = f"Error: --plot: {target} exists; use --force to overwrite it\n"
    assert result.stderr.decode() == expected
    assert target.read_bytes() == b"precious"
    ok(cli("game-sim", "--steps", "5", "--plot", str(target), "--force"))
    with Image.open(target) as image:
        assert image.format == "PNG"


def test_plot_and_animation_are_real_images(cli, tmp_path):
    png, gif = tmp_path / "xy.png", tmp_path / "xy.gif"
    result = cli("game-sim", "-o", "simgd,altgd,extragradient", "--steps", "40",
                 "--plot", str(png), "--animate", str(gif))
    ok(result)
    assert f"wrote {png}" in result.stderr.decode()
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 500
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames > 10


def test_runs_that_overflow_are_reported_without_warnings(cli, tmp_path):
    # a = c = 1: each player's own term pushes it away; simgd and flow overflow to inf.
    target = tmp_path / "away.png"
    result = cli("game-sim", "-g", "quadratic", "--a", "1", "--c", "1",
                 "-o", "simgd,flow,consensus", "--lr", "0.5", "--steps", "3000",
                 "--format", "json", "--plot", str(target))
    runs = {r["name"]: r for r in json.loads(ok(result))["optimizers"]}
    assert result.stderr.decode() == f"wrote {target}\n"
    assert runs["simgd"]["verdict"] == runs["flow"]["verdict"] == "diverges"
    assert runs["simgd"]["distance_end"] is None  # inf is not JSON: null
    assert runs["consensus"]["verdict"] == "converges"
    with Image.open(target) as image:
        assert image.format == "PNG"


def test_plot_to_stdout_moves_the_table_to_stderr(cli):
    result = cli("game-sim", "--steps", "10", "--plot", "-")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.startswith(b"\x89PNG\r\n\x1a\n")
    assert "does not converge" in result.stderr.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--x", "nan"], "--x must be a finite number"),
        (["--y", "inf"], "--y must be a finite number"),
        (["--x", "two"], "--x must be a number"),
        (["--lr", "0"], "--lr must be a finite number > 0"),
        (["--lr", "-0.1"], "--lr must be a finite number > 0"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--steps", "-3"], "--steps must be at least 1"),
        (["--game", "matrix", "--matrix", "1,2;3"], "--matrix rows must all have the same length"),
        (["--game", "matrix", "--matrix", "1,2;3,4", "--x", "1,2,3"], "--x has 3 numbers"),
        (["--game", "matrix", "--matrix", "1,x;3,4"], "--matrix must be a number"),
        (["--game", "biliner"], "unknown game 'biliner'. Did you mean 'bilinear'?"),
        (["-o", "simgd,extragrad"], "unknown optimizer 'extragrad'. Did you mean 'extragradient'?"),
        (["--sweep-lr", "1:0.5:10"], "--sweep-lr STOP must be >= START"),
        (["--sweep-lr", "0.1:1"], "--sweep-lr must be START:STOP:N"),
        (["--sweep-lr", "0.1:1:zero"], "--sweep-lr N must be a whole number"),
        (["--format", "yaml"], "unknown --format 'yaml'"),
        (["--game", "dirac-gan", "--loss", "hinge"], "unknown --loss 'hinge'"),
        (["--beta", "-0.5"], "--beta applies only to optimizer negative-momentum"),
    ],
)
def test_bad_input_is_one_line_with_exit_2(cli, cli_here, args, message):
    run = cli if args == ["--x", "nan"] else cli_here  # one real process, the rest in main()
    result = run("game-sim", *args)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.startswith("Error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert result.stdout == b""


def test_bad_input_leaves_an_existing_plot_alone(cli, tmp_path):
    target = tmp_path / "keep.png"
    target.write_bytes(b"precious")
    result = cli("game-sim", "--lr", "0", "--plot", str(target))
    assert result.returncode == 2
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_game_sim_starts_without_torch_scipy_or_matplotlib():
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gantool", "game-sim", "--x", "2", "--y", "2"],
        capture_output=True,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines()}
    assert "numpy" in imported  # the check can see imports at all
    for heavy in ("torch", "scipy", "matplotlib"):
        assert heavy not in imported, heavy


def test_update_is_the_rule_option_and_optimizer_its_alias(cli):
    by_update = cli("game-sim", "--update", "cgd,sga", "--format", "csv", "--steps", "5")
    by_short = cli("game-sim", "-u", "cgd,sga", "--format", "csv", "--steps", "5")
    by_alias = cli("game-sim", "--optimizer", "cgd,sga", "--format", "csv", "--steps", "5")
    assert ok(by_update) == ok(by_alias) == ok(by_short)
    rows = list(csv.DictReader(io.StringIO(ok(by_update))))
    assert float(rows[1]["x"]) == pytest.approx((2 + 2 * 0.1) / (1 + 0.01))  # cgd step 1


def test_json_has_the_jacobian_split_eigenvalues_and_stable_lr(cli):
    doc = json.loads(ok(cli("game-sim", "-u", "simgd,extragradient", "--lr-x", "0.1",
                            "--lr-y", "0.1", "--format", "json")))
    assert doc["jacobian"]["antisymmetric"] == [[0.0, 1.0], [-1.0, 0.0]]
    assert doc["jacobian"]["symmetric"] == [[0.0, 0.0], [0.0, 0.0]]
    simgd, eg = doc["optimizers"]
    assert sorted(simgd["eigenvalues"]) == [[1.0, -0.1], [1.0, 0.1]]
    assert simgd["stable_lr"]["lr_max"] == 0
    assert eg["stable_lr"]["lr_max"] == pytest.approx(1.0)
    ttur = json.loads(ok(cli("game-sim", "--lr-x", "0.1", "--lr-y", "0.4", "--format", "json")))
    assert (ttur["lr_x"], ttur["lr_y"]) == (0.1, 0.4)
    assert ttur["optimizers"][0]["stable_lr"] is None  # closed forms are for one step size


def test_phase_diagram_csv_json_table_and_png(cli, tmp_path):
    args = ["game-sim", "-g", "dirac-gan", "--loss", "rpgan", "--regularizer", "r1+r2",
            "-u", "simgd,cgd", "--x", "0.5", "--y", "0.5", "--sweep", "lr=0.1:0.5:3,gamma=0:1:3"]
    rows = list(csv.DictReader(io.StringIO(ok(cli(*args, "--format", "csv")))))
    assert len(rows) == 2 * 3 * 3
    assert list(rows[0]) == ["optimizer", "lr", "gamma", "final_distance", "spectral_radius",
                             "verdict"]
    cell = {(r["optimizer"], float(r["lr"]), float(r["gamma"])): r for r in rows}
    assert cell[("simgd", 0.1, 0.0)]["verdict"] != "converges"  # RpGAN alone
    assert cell[("simgd", 0.1, 1.0)]["verdict"] == "converges"  # with R1 + R2
    doc = json.loads(ok(cli(*args, "--format", "json")))
    assert [a["name"] for a in doc["axes"]] == ["lr", "gamma"]
    assert (doc["lr"], doc["lr_x"], doc["lr_y"]) == (None, None, None)
    assert len(doc["optimizers"][0]["verdict"]) == 3
    target = tmp_path / "phase.png"
    out = ok(cli(*args, "--plot", str(target)))
    assert "simgd:" in out and "gamma" in out
    with Image.open(target) as image:
        assert image.format == "PNG" and image.width > 500


def test_eigenvalue_plot_is_a_real_image(cli, tmp_path):
    target = tmp_path / "eig.png"
    result = cli("game-sim", "-u", "simgd,cgd,lookahead", "--lr", "0.5",
                 "--plot-eigenvalues", str(target))
    ok(result)
    with Image.open(target) as image:
        assert image.format == "PNG" and image.width >= 300


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr-x", "0"], "--lr-x must be a finite number > 0"),
        (["--steps-x", "2"], "--steps-x applies only to optimizer altgd, lookahead"),
        (["-u", "altgd", "--steps-x", "0"], "--steps-x must be at least 1"),
        (["-u", "lookahead", "--steps-x", "2"], "--steps-x applies only to optimizer altgd"),
        (["-u", "lookahead", "--lookahead-alpha", "1.5"], "--lookahead-alpha must be"),
        (["-u", "lookahead", "--lookahead-base", "adam"], "unknown --lookahead-base 'adam'"),
        (["--sweep", "lr=0.1:1:3"], "--sweep must be NAME=START:STOP:N,NAME=START:STOP:N"),
        (["--sweep", "lr=0.1:1:3,speed=0:1:2"], "unknown --sweep parameter 'speed'"),
        (["-g", "dirac-gan", "--sweep", "lr=0.1:1:3,gamma=0:1:2"],
         "--gamma applies only with --regularizer"),
        (["--sweep", "lr=0.1:1:3,mix=0:1:2", "--sweep-lr", "0.1:1:3"], "cannot be combined"),
        (["--game", "quadratic", "--mix", "2"], "--mix must be a number in [0, 1]"),
        (["--plot-eigenvalues", "e.png", "--sweep-lr", "0.1:1:3"], "draws one run"),
    ],
)
def test_bad_new_options_are_one_line_with_exit_2(cli, cli_here, args, message, tmp_path):
    run = cli if args == ["--lr-x", "0"] else cli_here  # one real process, the rest in main()
    result = run("game-sim", *args, cwd=tmp_path)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.startswith("Error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_game_sim_starts_without_rich_tables_or_the_entry_point_scan():
    # The two known start-up costs: rich's table renderer and importlib.metadata's scan of every
    # installed distribution (skipped when none declares a gantool.plugins entry point).
    code = ("import sys\nfrom gantool.cli import main\nsys.argv = ['gantool', 'game-sim']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('rich.table', 'rich.console', 'importlib.metadata')"
            " if m in sys.modules), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    imported = result.stderr.decode().strip().splitlines()[-1]
    from gantool import registry

    # Where some installed distribution does declare a plugin, the scan is needed.
    assert imported == ("['importlib.metadata']" if registry._any_plugin_declared() else "[]")
