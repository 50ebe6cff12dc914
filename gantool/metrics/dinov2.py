"""DINOv2 ViT feature extractors (`dinov2-vits14`, `dinov2-vitb14`, `dinov2-vitl14`), for FD_DINOv2.

Stein et al. (NeurIPS 2023) found DINOv2 ViT-L/14 features rank generated images the way people
do, where Inception's do not; EDM2 reports FD_DINOv2. The network is timm's ViT (a well-kept
library, imported only when these extractors run); the protocol is dgm-eval's default, the one
its published FD_DINOv2 numbers use (EDM2's DINOv2 detector in its 'pil' mode does the same):
- each image converted to RGB and resized to 224x224 as one 8-bit PIL image, bicubic (PIL's
  antialiasing), as torchvision's Resize((224, 224), BICUBIC) does to a PIL image
  (`resize="pil"`); `resize="clean"` is dgm-eval's --clean_resize instead: each channel
  resized as a float32 PIL image and clipped to [0, 255], with no rounding (clean-fid's resize);
- divided by 255 and normalised with the ImageNet mean and std;
- the feature is the class token after the final norm (1024-d for ViT-L/14).
The checkpoints hold 37x37 position embeddings (518 px); like DINOv2's own forward, they are
resized to the 16x16 grid of 224 px once, at load time (bicubic, scale factor (16 + 0.1) / 37,
no antialiasing).
Weights: `--dinov2-weights FILE` (the official .pth or timm's .safetensors), else the Hugging Face
cache, else a download; with GANTOOL_OFFLINE set only the cache is tried.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from gantool.errors import GantoolError, UsageError
from gantool.metrics.features import Extracted, FeatureExtractor
from gantool.metrics.resize import pil_bicubic, pil_bicubic_8bit, to_rgb
from gantool.metrics.weights_file import load_checked, read_state_dict
from gantool.registry import register

INPUT_SIZE = 224
PATCH = 14
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# arch -> (timm model name, Hugging Face repository of its weights, feature dimension)
ARCHS = {
    "vits14": ("vit_small_patch14_dinov2", "timm/vit_small_patch14_dinov2.lvd142m", 384),
    "vitb14": ("vit_base_patch14_dinov2", "timm/vit_base_patch14_dinov2.lvd142m", 768),
    "vitl14": ("vit_large_patch14_dinov2", "timm/vit_large_patch14_dinov2.lvd142m", 1024),
}
POS_EMBED_OFFSET = 0.1  # DINOv2's interpolate_offset
# --dinov2-resize: dgm-eval's default (8-bit PIL image) or its --clean_resize (float channels)
RESIZE_MODES = ("pil", "clean")
DEFAULT_RESIZE = "pil"


def check_resize(mode: str) -> str:
    if mode not in RESIZE_MODES:
        raise UsageError(
            f"unknown --dinov2-resize {mode!r}; choose one of: {', '.join(RESIZE_MODES)}"
        )
    return mode


def dgm_eval_input(images: torch.Tensor, resize: str = DEFAULT_RESIZE) -> torch.Tensor:
    """uint8 (N, C, H, W) -> the normalised (N, 3, 224, 224) float32 input, dgm-eval's way."""
    rgb = to_rgb(images)
    if check_resize(resize) == "pil":
        x = pil_bicubic_8bit(rgb, INPUT_SIZE).to(torch.float32) / 255
    else:
        x = pil_bicubic(rgb, INPUT_SIZE) / 255
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _timm():
    try:
        import timm
    except ImportError:
        raise GantoolError(
            "the DINOv2 extractors need timm: pip install 'gantool[dinov2]' (or timm)"
        ) from None
    return timm


def build_model(arch: str, device: str = "meta") -> torch.nn.Module:
    """timm's DINOv2 ViT for 224 px input, no classifier head, random weights."""
    with torch.device(device):
        return _timm().create_model(ARCHS[arch][0], pretrained=False, img_size=INPUT_SIZE,
                                    num_classes=0)


def resample_pos_embed(pos_embed: torch.Tensor, grid: int) -> torch.Tensor:
    """(1, 1 + M*M, D) -> (1, 1 + grid*grid, D), as DINOv2's interpolate_pos_encoding does."""
    m = round((pos_embed.shape[1] - 1) ** 0.5)
    if m == grid:
        return pos_embed
    cls, patches = pos_embed[:, :1], pos_embed[:, 1:].float()
    scale = (grid + POS_EMBED_OFFSET) / m
    patches = patches.reshape(1, m, m, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, scale_factor=(scale, scale), mode="bicubic", antialias=False)
    patches = patches.permute(0, 2, 3, 1).reshape(1, grid * grid, -1).to(pos_embed.dtype)
    return torch.cat([cls, patches], 1)


def cached_weights(arch: str) -> Path:
    """timm's weights file from the Hugging Face cache, downloaded there if allowed."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise GantoolError(
            "DINOv2 weights from the cache need huggingface_hub: pip install 'gantool[dinov2]', "
            "or pass --dinov2-weights FILE"
        ) from None

    repo = ARCHS[arch][1]
    offline = bool(os.environ.get("GANTOOL_OFFLINE") or os.environ.get("HF_HUB_OFFLINE"))
    try:
        return Path(hf_hub_download(repo, "model.safetensors", local_files_only=offline))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        how = f"download failed: {first}"
        if offline:
            how = "not in the Hugging Face cache and offline"
        raise GantoolError(
            f"DINOv2 {arch} weights {how}; download model.safetensors from "
            f"https://huggingface.co/{repo} and pass --dinov2-weights FILE"
        ) from None


def load_dinov2(arch: str, weights: str | Path | None = None, device: str = "cpu"):
    """The ViT with real weights from `weights` or the cache (see the module docstring)."""
    path = Path(weights) if weights is not None else cached_weights(arch)
    state = read_state_dict(path, "DINOv2")
    model = build_model(arch, "cpu")
    from timm.models.vision_transformer import checkpoint_filter_fn

    what = f"DINOv2 {arch}"
    try:
        if "pos_embed" in state:
            state["pos_embed"] = resample_pos_embed(state["pos_embed"], INPUT_SIZE // PATCH)
        state = checkpoint_filter_fn(state, model)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise GantoolError(f"{path} does not hold {what} weights: {first}") from None
    load_checked(model, state, path, what)
    return model.to(device).eval()


class DINOv2Extractor(FeatureExtractor):
    """Class-token features of a DINOv2 ViT; no class probabilities."""

    images_only = True

    def __init__(
        self, arch: str, weights: str | None = None, device: str = "cpu",
        resize: str = DEFAULT_RESIZE,
    ) -> None:
        self.arch, self.weights, self.device = arch, weights, device
        self.resize = check_resize(resize)  # part of the protocol: --compare checks it
        self.name = f"dinov2-{arch}"
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = load_dinov2(self.arch, self.weights, self.device)
        return self._model

    @torch.no_grad()
    def __call__(self, batch: torch.Tensor) -> Extracted:
        features = self.model(dgm_eval_input(batch, self.resize).to(self.device))
        return Extracted(features.double().cpu(), None)

    def feature_dim(self, sample_shape: tuple[int, ...]) -> int:
        return ARCHS[self.arch][2]

    def describe(self, sample_shape: tuple[int, ...]) -> str:
        how = {"pil": "8-bit PIL bicubic, dgm-eval's default",
               "clean": "PIL bicubic per float channel, dgm-eval's --clean_resize"}[self.resize]
        return f"resized to 224x224 ({how}), ImageNet normalisation"


def _register(arch: str, label: str) -> None:
    dim = ARCHS[arch][2]

    @register("feature-extractor", f"dinov2-{arch}", f"DINOv2 {label} class token, {dim}-d (timm)")
    def factory(
        *, weights: str | None = None, device: str = "cpu", resize: str = DEFAULT_RESIZE
    ) -> DINOv2Extractor:
        return DINOv2Extractor(arch, weights, device, resize)


for _arch, _label in (("vits14", "ViT-S/14"), ("vitb14", "ViT-B/14"), ("vitl14", "ViT-L/14")):
    _register(_arch, _label)
