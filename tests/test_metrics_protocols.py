"""Protocols that match the peers: clean-fid's resize through clean-fid's own code path, TF1's
legacy resize, and DINOv2 features equal to timm's forward with dgm-eval's preprocessing.

All on random weights (nothing is downloaded): a mismatch in preprocessing or wiring shows up
just as it would with the real weights."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from test_metrics_inception import random_state_dict

from gantool.metrics import dinov2
from gantool.metrics.features import InceptionExtractor
from gantool.metrics.resize import tf_legacy_bilinear


def random_images(n: int, size: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, channels), dtype=np.uint8)


@torch.no_grad()
def test_clean_resize_and_normalisation_match_clean_fid_on_its_pytorch_inception_port(
    tmp_path, monkeypatch
):
    """What this covers: clean-fid's image reading, resize (mode="clean") and batching, and the
    (x - 128) / 128 of its network wrapper. What it does not: clean-fid's mode="clean" runs
    StyleGAN2-ADA's TorchScript Inception (not downloadable here); the network below is
    clean-fid's PyTorch port (inception_pytorch) with the same random weights as ours."""
    fid = pytest.importorskip("cleanfid.fid")
    from cleanfid import inception_pytorch

    state = random_state_dict(seed=6)
    monkeypatch.setattr(inception_pytorch, "load_state_dict_from_url", lambda *a, **k: state)
    network = inception_pytorch.InceptionV3(
        output_blocks=[3], resize_input=False, normalize_input=False
    ).eval()

    def clean_fid_model(x: torch.Tensor) -> torch.Tensor:  # InceptionV3W's normalisation
        return network((x - 128) / 128)[0].flatten(1)

    images = random_images(3, 37, seed=1)
    (tmp_path / "imgs").mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / "imgs" / f"{i}.png")
    expected = fid.get_folder_features(
        str(tmp_path / "imgs"), model=clean_fid_model, num_workers=0, batch_size=3,
        device=torch.device("cpu"), mode="clean", verbose=False,
    )
    torch.save(state, tmp_path / "w.pth")
    ours = InceptionExtractor(str(tmp_path / "w.pth"), resize="clean")
    features = ours(torch.from_numpy(images).permute(0, 3, 1, 2)).features.numpy()
    scale = np.abs(expected).max()
    assert scale > 0
    error = np.abs(features - expected).max() / scale
    print(f"clean-fid parity: max relative feature difference {error:.2e}")
    assert error < 1e-4


def tf1_legacy_by_grid_sample(x: torch.Tensor, size: int) -> torch.Tensor:
    """TF1 resize_bilinear (align_corners=False) written as the sampling grid stylegan2-ada's
    Inception uses: pixel centres shifted by half an input pixel minus half an output pixel,
    border clamp."""
    n, c, h, w = x.shape
    theta = torch.eye(2, 3, dtype=torch.float64).unsqueeze(0).repeat(n, 1, 1)
    theta[:, 0, 2] += 1 / w - 1 / size
    theta[:, 1, 2] += 1 / h - 1 / size
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def test_legacy_tf_resize_is_tensorflow_1_bilinear():
    row = torch.tensor([[[[0.0, 10.0], [20.0, 30.0]]]])
    # TF1: source = destination * in / out, no half-pixel offset; the last pixels clamp.
    assert tf_legacy_bilinear(row, 4)[0, 0, 0].tolist() == [0.0, 5.0, 10.0, 10.0]
    x = torch.rand(2, 3, 28, 33, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = x[:, :, :28, :28] * 255
    assert torch.allclose(tf_legacy_bilinear(x, 299), tf1_legacy_by_grid_sample(x, 299),
                          atol=1e-8)


def test_resize_protocols_change_the_features(tmp_path):
    torch.save(random_state_dict(seed=2), tmp_path / "w.pth")
    images = torch.from_numpy(random_images(2, 32, seed=3)).permute(0, 3, 1, 2)
    features = {
        mode: InceptionExtractor(str(tmp_path / "w.pth"), resize=mode)(images).features
        for mode in ("legacy-pytorch", "clean", "legacy-tf")
    }
    assert not torch.allclose(features["clean"], features["legacy-pytorch"], rtol=1e-3)
    assert not torch.allclose(features["legacy-tf"], features["legacy-pytorch"], rtol=1e-3)


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def rgb_pil(image: np.ndarray) -> Image.Image:
    """(H, W, 1 or 3) uint8 as dgm-eval's loader sees it: a PIL image converted to RGB."""
    return Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).convert("RGB")


def dgm_eval_reference_input(images: np.ndarray) -> torch.Tensor:
    """dgm-eval's default DINOv2 preprocessing as its source reads (DINOv2Encoder.transform with
    clean_resize False, after ImagePathDataset's convert('RGB')): torchvision's
    Resize((224, 224), BICUBIC) on the 8-bit RGB PIL image, ToTensor, Normalize(ImageNet)."""
    from torchvision import transforms

    transform = transforms.Compose([
        transforms.Resize((224, 224), transforms.InterpolationMode.BICUBIC),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    return torch.stack([transform(rgb_pil(image)) for image in images])


def dgm_eval_clean_resize_input(images: np.ndarray) -> torch.Tensor:
    """dgm-eval's --clean_resize path: each RGB channel a float32 PIL image resized bicubic to
    224x224 and clipped to [0, 255], / 255, then Normalize(ImageNet)."""
    out = []
    for image in images:
        rgb = np.asarray(rgb_pil(image))
        channels = [
            np.asarray(Image.fromarray(rgb[:, :, c].astype(np.float32), mode="F").resize(
                (224, 224), Image.BICUBIC)).clip(0, 255)
            for c in range(3)
        ]
        x = torch.from_numpy(np.stack(channels)) / 255
        mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
        std = torch.tensor(IMAGENET_STD)[:, None, None]
        out.append((x - mean) / std)
    return torch.stack(out)


def as_nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2)


def protocol_cases() -> dict[str, np.ndarray]:
    """16 bundled digits (grey, 28 -> 224: PIL repeats them to RGB), colour up and down."""
    from gantool.data import load_dataset

    digits = load_dataset("mnist-5k").data[:16].permute(0, 2, 3, 1).numpy()
    return {"digits": digits, "rgb-37": random_images(3, 37, seed=5),
            "rgb-300": random_images(2, 300, seed=6)}


@pytest.mark.parametrize("case", ["digits", "rgb-37", "rgb-300"])
def test_dinov2_input_is_dgm_evals_default_preprocessing_to_the_pixel(case):
    """Issue 22 section 3: FD_DINOv2's published numbers (dgm-eval's default, Stein et al. 2023;
    EDM2's 'pil' mode) resize the 8-bit RGB image, not each channel as floats."""
    images = protocol_cases()[case]
    ours, expected = dinov2.dgm_eval_input(as_nchw(images)), dgm_eval_reference_input(images)
    grey_levels = ((ours - expected) * torch.tensor(IMAGENET_STD)[:, None, None] * 255).abs()
    print(f"{case}: max {grey_levels.max():.2f} grey levels, "
          f"{(grey_levels > 1.0001).double().mean():.2%} of values by more than one")
    assert torch.equal(ours, expected)


@pytest.mark.parametrize("case", ["digits", "rgb-37", "rgb-300"])
def test_dinov2_clean_resize_is_dgm_evals_clean_resize_path(case):
    images = protocol_cases()[case]
    ours = dinov2.dgm_eval_input(as_nchw(images), resize="clean")
    assert torch.allclose(ours, dgm_eval_clean_resize_input(images), atol=1e-6, rtol=0)


@torch.no_grad()
def test_dinov2_features_equal_timm_forward_with_dgm_eval_preprocessing(tmp_path):
    timm = pytest.importorskip("timm")
    from safetensors.torch import save_file

    torch.manual_seed(0)
    reference = timm.create_model("vit_small_patch14_dinov2", img_size=224, num_classes=0).eval()
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()},
              str(tmp_path / "vits14.safetensors"))
    extractor = dinov2.DINOv2Extractor("vits14", str(tmp_path / "vits14.safetensors"))
    images = random_images(2, 40, seed=4)
    ours = extractor(torch.from_numpy(images).permute(0, 3, 1, 2)).features
    expected = reference(dgm_eval_reference_input(images)).double()
    assert ours.shape == (2, 384)
    error = ((ours - expected).abs().max() / expected.abs().max()).item()
    print(f"DINOv2 ViT-S/14 parity: max relative feature difference {error:.2e}")
    assert error < 1e-5
    grey = extractor(torch.from_numpy(images[:, :, :, :1]).permute(0, 3, 1, 2)).features
    assert grey.shape == (2, 384)  # grey images are repeated to RGB


def test_official_dinov2_checkpoints_load_with_dinov2_position_interpolation(tmp_path):
    """The facebookresearch checkpoints hold 37x37 position embeddings and a mask token."""
    timm = pytest.importorskip("timm")
    torch.manual_seed(1)
    native = timm.create_model("vit_small_patch14_dinov2", num_classes=0)  # 518 px, 37x37
    state = {**native.state_dict(), "mask_token": torch.zeros(1, 384)}
    torch.save(state, tmp_path / "dinov2_vits14_pretrain.pth")
    model = dinov2.load_dinov2("vits14", tmp_path / "dinov2_vits14_pretrain.pth")
    patches = state["pos_embed"][:, 1:].reshape(1, 37, 37, 384).permute(0, 3, 1, 2)
    expected = F.interpolate(patches, scale_factor=(16.1 / 37, 16.1 / 37), mode="bicubic",
                             antialias=False).permute(0, 2, 3, 1).reshape(1, 256, 384)
    assert torch.equal(model.pos_embed[:, :1], state["pos_embed"][:, :1])
    assert torch.allclose(model.pos_embed[:, 1:], expected)


def test_vit_l14_builds_with_1024_features():
    model = dinov2.build_model("vitl14")  # on the meta device: no memory, no weights
    assert model.num_features == 1024 and model.pos_embed.shape == (1, 257, 1024)
    assert dinov2.DINOv2Extractor("vitl14").feature_dim((3, 64, 64)) == 1024


def test_dinov2_without_weights_offline_is_one_clear_error(tmp_path):
    np.savez(tmp_path / "x.npz", data=random_images(4, 16))
    env = {**os.environ, "GANTOOL_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "gantool", "evaluate", "--fake", str(tmp_path / "x.npz"),
         "--real", str(tmp_path / "x.npz"), "--metrics", "fd-dinov2", "--dinov2-arch", "vits14"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 1 and result.stdout == ""
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "not in the Hugging Face cache" in lines[0] and "--dinov2-weights" in lines[0]


@pytest.mark.parametrize(("content", "expected"), [
    (b"garbage", "cannot read DINOv2 weights"),
    (None, "does not hold DINOv2 vits14 weights: 1 of another shape (cls_token: 1x1x8, expected "
           "1x1x384)"),
])
def test_bad_dinov2_weights_are_one_clear_line(tmp_path, content, expected):
    """Issue 22 section 5: one line, no weights_only advice, no dangling "for ...:"."""
    timm = pytest.importorskip("timm")
    from gantool.errors import GantoolError

    path = tmp_path / "dinov2_vits14_pretrain.pth"
    if content is not None:
        path.write_bytes(content)
    else:
        state = timm.create_model("vit_small_patch14_dinov2", img_size=224, num_classes=0,
                                  pretrained=False).state_dict()
        state["cls_token"] = torch.zeros(1, 1, 8)
        torch.save(state, path)
    with pytest.raises(GantoolError) as info:
        dinov2.load_dinov2("vits14", path)
    message = str(info.value)
    assert expected in message and "\n" not in message and "weights_only" not in message
    assert not message.endswith(":")


@pytest.mark.parametrize(("extra", "message"), [
    (["--metrics", "fid", "--dinov2-resize", "clean"], "--dinov2-resize applies to the dinov2-*"),
    (["--metrics", "fd-dinov2", "--dinov2-resize", "bilinear"], "unknown --dinov2-resize 'bilinear'"),
])
def test_bad_dinov2_resize_is_one_usage_error(tmp_path, capsys, extra, message):
    from gantool.cli import main

    np.savez(tmp_path / "x.npz", data=random_images(4, 16))
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--fake", str(tmp_path / "x.npz"), "--real", str(tmp_path / "x.npz"),
              "--feature-extractor", "identity", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and message in err[0], err
