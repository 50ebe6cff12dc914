"""A classifier of the user's own labelled folder (`train-classifier --dataset folder`) and
`evaluate --feature-extractor FILE.safetensors`, on folders the tests make: through the real
CLI where the command's own output is checked, else through main() in this process (cli_here)
or gantool.train_classifier, which skip a subprocess's second torch import."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from gantool.metrics import folder_classifier as fc

COLOURS = {"circles": (220, 40, 40), "squares": (40, 40, 220), "triangles": (40, 170, 40)}


def make_shapes(root: Path, per_class: int = 8, size: int = 16, classes=COLOURS) -> Path:
    """One sub-folder per class of coloured shapes at random places on white, as PNG files."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            image = Image.new("RGB", (size, size), (255, 255, 255))
            draw = ImageDraw.Draw(image)
            x, y = (int(v) for v in rng.integers(1, size // 3, 2))
            s = int(rng.integers(size // 2, size // 2 + 3))
            colour = COLOURS.get(name, (0, 0, 0))
            if name == "circles":
                draw.ellipse([x, y, x + s, y + s], fill=colour)
            elif name == "triangles":
                draw.polygon([(x, y + s), (x + s, y + s), (x + s // 2, y)], fill=colour)
            else:
                draw.rectangle([x, y, x + s, y + s], fill=colour)
            image.save(folder / f"{i}.png")
    return root


def train(cli, root: Path, out: Path, *extra: str):
    return cli(
        "train-classifier", "--dataset", "folder", "--data-root", str(root), "--out", str(out),
        "--epochs", "2", "--batch-size", "8", "--width", "8", "--json", *extra,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(shapes folder, classifier file, train-classifier's JSON), trained once per module."""
    from conftest import run_cli

    base = tmp_path_factory.mktemp("own")
    root = make_shapes(base / "shapes")
    out = base / "shapes.safetensors"
    result = train(run_cli, root, out)
    assert result.returncode == 0, result.stderr.decode()
    return root, out, json.loads(result.stdout)


def train_here(root: Path, out: Path, seed: int = 0) -> dict:
    """train()'s classifier through gantool.train_classifier, on one thread as the command's
    subprocess runs (the same float sums, so the same bytes)."""
    import gantool

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return gantool.train_classifier(dataset="folder", data_root=root, out=out, epochs=2,
                                        batch_size=8, width=8, seed=seed)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def other(trained, tmp_path_factory):
    """A classifier file with the trained one's name and other weights (seed 1)."""
    root, out, _ = trained
    path = tmp_path_factory.mktemp("other") / out.name
    train_here(root, path, seed=1)
    return path


def one_error_line(result, code: int) -> str:
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == code, result.stderr.decode()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


def test_training_writes_weights_and_the_metadata_to_rebuild_them(trained):
    root, out, report = trained
    assert report["classes"] == ["circles", "squares", "triangles"]
    assert report["class_counts"] == [8, 8, 8]
    assert (report["n_train"], report["n_heldout"]) == (18, 6)  # 20% of each class held out
    assert 0 <= report["heldout_accuracy"] <= 1 and len(report["heldout_per_class"]) == 3
    from safetensors import safe_open

    with safe_open(str(out), framework="pt") as handle:
        spec = json.loads(handle.metadata()[fc.METADATA_KEY])
    assert spec["architecture"] == "small-resnet"
    assert spec["arch_options"] == {"in_channels": 3, "num_classes": 3, "width": 8}
    assert (spec["image_size"], spec["channels"]) == (16, 3)
    assert spec["class_names"] == report["classes"]
    assert spec["dataset"]["name"] == "folder" and spec["dataset"]["root"] == str(root)
    assert "x / 255" in spec["preprocessing"]
    model, _ = fc.load_classifier(out)
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 3)


def test_same_seed_gives_the_same_weights(trained, other, tmp_path):
    root, out, report = trained
    again = train_here(root, tmp_path / "again.safetensors")
    assert again["heldout_per_class"] == report["heldout_per_class"]
    assert (tmp_path / "again.safetensors").read_bytes() == out.read_bytes()
    assert other.read_bytes() != out.read_bytes()  # the seed matters


def test_evaluate_with_the_file_scores_a_set_against_itself_near_zero(trained, cli):
    root, out, _ = trained
    result = cli(
        "evaluate", "--fake", str(root), "--real", str(root), "--feature-extractor", str(out),
        "--metrics", "fid,kid,is,prdc,mode-coverage", "--is-splits", "2", "--json",
    )
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert abs(report["metrics"]["fid"]["value"]) < 1e-6
    assert report["metrics"]["precision"]["value"] == 1.0
    assert 1 <= report["metrics"]["is"]["value"] <= 3
    assert report["metrics"]["modes"]["total"] == 3  # the file's classes, not digits
    protocol = report["protocol"]
    assert protocol["feature_extractor"] == out.name
    assert protocol["extractor_sha256"] == {out.name: fc_sha256(out)}
    assert report["feature_extractor"] == str(out)


def fc_sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fakes_of_another_size_are_resized_to_the_classifiers(trained, tmp_path, cli_here):
    root, out, _ = trained
    from PIL import Image

    big = tmp_path / "big"
    big.mkdir()
    for i, path in enumerate(sorted(root.rglob("*.png"))[:6]):
        Image.open(path).resize((40, 40)).save(big / f"{i}.png")
    result = cli_here("evaluate", "--fake", str(big), "--real", str(big),
                      "--feature-extractor", str(out), "--metrics", "fid", "--json")
    assert result.returncode == 0, result.stderr.decode()
    assert "40x40 resized to 16x16" in result.stderr.decode()


def test_compare_refuses_results_of_other_extractors(trained, other, tmp_path, cli_here):
    root, out, _ = trained  # other: the same name, other weights; told apart by the sha256
    paths = []
    for extractor in (str(out), str(other), "identity"):
        result = cli_here("evaluate", "--fake", str(root), "--real", str(root),
                          "--feature-extractor", extractor, "--metrics", "fid", "--json")
        assert result.returncode == 0, result.stderr.decode()
        paths.append(tmp_path / f"r{len(paths)}.json")
        paths[-1].write_bytes(result.stdout)
    line = one_error_line(cli_here("evaluate", "--compare", str(paths[0]), str(paths[1])), 2)
    assert "extractor_sha256" in line
    line = one_error_line(cli_here("evaluate", "--compare", str(paths[0]), str(paths[2])), 2)
    assert "feature_extractor" in line
    assert cli_here("evaluate", "--compare", str(paths[0]), str(paths[0])).returncode == 0


def test_real_stats_of_another_classifier_file_are_refused(trained, other, tmp_path,
                                                           cli_here):
    root, out, _ = trained
    stats = tmp_path / "stats.npz"
    made = cli_here("evaluate", "--real", str(root), "--feature-extractor", str(out),
               "--save-stats", str(stats))
    assert made.returncode == 0, made.stderr.decode()
    same = cli_here("evaluate", "--fake", str(root), "--real-stats", str(stats),
               "--feature-extractor", str(out), "--metrics", "fid", "--json")
    assert same.returncode == 0, same.stderr.decode()
    assert abs(json.loads(same.stdout)["metrics"]["fid"]["value"]) < 1e-6
    line = one_error_line(cli_here("evaluate", "--fake", str(root), "--real-stats", str(stats),
                              "--feature-extractor", str(other), "--metrics", "fid"), 2)
    assert "another classifier file" in line


class Payload:
    """A pickle that would create a file if anything ever unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "classifier file not found"),
        ("garbage", "cannot read"),
        ("pickle", "cannot read"),
        ("pickle-pt", "never unpickles"),
        ("no-metadata", "has no gantool classifier metadata"),
    ],
)
def test_bad_classifier_files_give_one_error_line(kind, message, trained, tmp_path, cli,
                                                  cli_here):
    from safetensors.torch import load_file, save_file

    root, out, _ = trained
    path = tmp_path / ("x.pt" if kind == "pickle-pt" else "x.safetensors")
    marker = tmp_path / "pwned"
    if kind == "garbage":
        path.write_bytes(b"\x00" * 100)
    elif kind in ("pickle", "pickle-pt"):
        path.write_bytes(pickle.dumps({"weights": Payload(marker)}))
    elif kind == "no-metadata":
        save_file(load_file(str(out)), str(path))
    run = cli if kind == "pickle" else cli_here  # one case through a real process
    result = run("evaluate", "--fake", str(root), "--real", str(root),
                 "--feature-extractor", str(path), "--metrics", "fid")
    line = one_error_line(result, 2 if kind == "pickle-pt" else 1)
    assert message in line
    assert not marker.exists()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("digits", "has no gantool classifier metadata"),
        ("bad-json", "bad classifier metadata"),
        ("huge-width", "width 10000000 is out of range"),
        ("wrong-weights", "does not hold the weights its metadata describes"),
        ("nan", "is not finite"),
    ],
)
def test_files_with_wrong_contents_are_refused(kind, message, trained, tmp_path):
    from safetensors.torch import load_file, save_file

    from gantool.errors import GantoolError

    _, out, _ = trained
    path = tmp_path / "x.safetensors"
    state, spec = load_file(str(out)), json.loads(_metadata(out))
    if kind == "digits":
        from gantool.metrics.digits import WEIGHTS_PATH

        path.write_bytes(WEIGHTS_PATH.read_bytes())
    elif kind == "bad-json":
        save_file(state, str(path), metadata={fc.METADATA_KEY: "{not json"})
    else:
        if kind == "huge-width":
            spec["arch_options"]["width"] = 10**7
        elif kind == "wrong-weights":
            spec["arch_options"]["width"] = 16
        else:
            state["head.bias"][0] = float("nan")
        save_file(state, str(path), metadata={fc.METADATA_KEY: json.dumps(spec)})
    with pytest.raises(GantoolError, match=message):
        fc.ClassifierFileExtractor(path)


def _metadata(path: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata()[fc.METADATA_KEY]


def test_a_folder_with_one_class_is_refused(tmp_path, cli_here):
    root = make_shapes(tmp_path / "one", classes={"circles": None})
    out = tmp_path / "c.safetensors"
    line = one_error_line(train(cli_here, root, out), 2)
    assert "at least 2 classes; found 1 (circles)" in line
    assert not out.exists()


def test_small_classes_are_named_in_a_warning(tmp_path, cli_here):
    root = make_shapes(tmp_path / "few", per_class=3, classes={"circles": None, "squares": None})
    result = train(cli_here, root, tmp_path / "c.safetensors", "--epochs", "1")
    assert result.returncode == 0, result.stderr.decode()
    assert "fewer than 10 training images: circles (2), squares (2)" in result.stderr.decode()


def test_folder_options_go_with_the_folder_dataset(tmp_path, cli, cli_here):
    line = one_error_line(cli("train-classifier", "--image-size", "32",
                              "--out", str(tmp_path / "d.safetensors")), 2)
    assert "go with --dataset folder" in line
    line = one_error_line(cli_here("train-classifier", "--dataset", "folder",
                              "--out", str(tmp_path / "d.safetensors")), 2)
    assert "needs --data-root" in line


def test_holdout_split_keeps_each_class_in_training():
    labels = torch.tensor([0] * 10 + [1] * 5 + [2] * 1)
    train_idx, held_idx = fc.holdout_split(labels, 0.2, seed=0)
    assert torch.bincount(labels[held_idx], minlength=3).tolist() == [2, 1, 0]
    assert torch.bincount(labels[train_idx], minlength=3).tolist() == [8, 4, 1]
    again = fc.holdout_split(labels, 0.2, seed=0)
    assert torch.equal(again[1], held_idx)


def test_features_do_not_depend_on_the_batch_size(trained):
    _, out, _ = trained
    extractor = fc.ClassifierFileExtractor(out)
    images = torch.randint(0, 256, (7, 3, 16, 16), dtype=torch.uint8)
    whole = extractor(images)
    parts = [extractor(images[i : i + 3]) for i in range(0, 7, 3)]
    assert torch.equal(whole.features, torch.cat([p.features for p in parts]))
    assert torch.allclose(whole.probabilities.sum(1), torch.ones(7, dtype=torch.float64))


def test_registered_names_are_not_taken_for_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inception").write_bytes(b"")  # a file that happens to share a name
    for name in ("inception", "digits", "dinov2-vits14", "identity", None, ""):
        assert not fc.is_classifier_file(name)
    for name in ("emoji.safetensors", "runs/x", "model.pt", "model.PTH"):
        assert fc.is_classifier_file(name)
