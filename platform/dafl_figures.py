"""The two figures seed 003 shows for DAFL, per reported group of DAFL trials:

- ``generated_means_<label>.png``: per class, the mean of the generated images the teacher
  puts in that class, above the mean real test image of that class (what the generator
  learned to imitate, without ever reading a training image);
- ``first_conv_<label>.png``: the first convolution's filters of the teacher and of the
  student trained on the generated images, each filter scaled by its own largest weight.

Plots use a bare ``Figure`` on the Agg canvas, as the other report figures do."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

GAP = 2


def class_mean_images(images: torch.Tensor, classes: torch.Tensor, num_classes: int) -> List[Optional[np.ndarray]]:
    """Per class, the float64 mean of ``images`` (N, C, H, W) whose class is that class, as
    (H, W, C); None for a class without images."""
    x = images.double().numpy()
    labels = classes.numpy()
    return [x[labels == c].mean(axis=0).transpose(1, 2, 0) if (labels == c).any() else None
            for c in range(num_classes)]


def first_conv_weight(model: nn.Module) -> Optional[torch.Tensor]:
    """The weight (out, in, kh, kw) of the first ``Conv2d`` in module order, None without one."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if conv is None else conv.weight.detach().float().cpu()


def filter_tiles(weight: torch.Tensor) -> List[np.ndarray]:
    """Each filter as an (kh, kw, 3) tile in [0, 1]: 0 weight at grey 0.5, scaled by the filter's
    own largest |weight|; colour for three input channels, else the mean over input channels."""
    tiles = []
    for w in weight.double().numpy():
        w = w if w.shape[0] == 3 else w.mean(axis=0, keepdims=True)
        scale = np.abs(w).max() or 1.0
        tile = 0.5 + 0.5 * w.transpose(1, 2, 0) / scale
        tiles.append(np.repeat(tile, 3, axis=2) if tile.shape[2] == 1 else tile)
    return tiles


def _rgb(tile: np.ndarray) -> np.ndarray:
    tile = np.clip(tile, 0.0, 1.0)
    return np.repeat(tile, 3, axis=2) if tile.shape[2] == 1 else tile[:, :, :3]


def _mosaic(rows: Sequence[Sequence[Optional[np.ndarray]]], height: int, width: int) -> np.ndarray:
    columns = max(len(r) for r in rows)
    mosaic = np.ones((len(rows) * (height + GAP) - GAP, columns * (width + GAP) - GAP, 3))
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            if tile is not None:
                y, x = i * (height + GAP), j * (width + GAP)
                mosaic[y:y + height, x:x + width] = _rgb(tile)
    return mosaic


def _save(fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def plot_class_means(generated: List[Optional[np.ndarray]], real: List[Optional[np.ndarray]],
                     class_names: Sequence[str], path: str, title: str) -> str:
    """Two rows, one column per class: the generated mean above the real test mean (a class the
    generator never made is left blank and marked in its label)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shape = next(m for m in generated + real if m is not None).shape
    height, width = shape[:2]
    mosaic = _mosaic([generated, real], height, width)
    k = len(class_names)
    fig = Figure(figsize=(2.0 + 0.9 * k, 3.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_xticks([j * (width + GAP) + width / 2 for j in range(k)])
    ax.set_xticklabels([name if generated[j] is not None else f"{name}\n(none made)"
                        for j, name in enumerate(class_names)], fontsize=7, rotation=30 if k > 5 else 0)
    ax.set_yticks([height / 2, height + GAP + height / 2])
    ax.set_yticklabels(["generated\n(teacher's class)", "real test"], fontsize=7)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_first_conv(weights: Sequence[Tuple[str, torch.Tensor]], path: str, title: str, per_row: int = 16) -> str:
    """One panel per (name, first-conv weight): its filters in rows of ``per_row``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows_of = [-(-len(w) // per_row) for _, w in weights]
    fig = Figure(figsize=(0.45 * per_row + 1.5, 1.2 + sum(0.45 * r + 0.5 for r in rows_of)), dpi=120)
    FigureCanvasAgg(fig)
    for i, (name, weight) in enumerate(weights):
        tiles = filter_tiles(weight)
        rows = [tiles[r:r + per_row] for r in range(0, len(tiles), per_row)]
        ax = fig.add_subplot(len(weights), 1, i + 1)
        ax.imshow(_mosaic(rows, weight.shape[2], weight.shape[3]), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name}: {weight.shape[0]} filters, {weight.shape[1]} x {weight.shape[2]} x "
                     f"{weight.shape[3]}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


__all__ = ["class_mean_images", "filter_tiles", "first_conv_weight", "plot_class_means", "plot_first_conv"]
