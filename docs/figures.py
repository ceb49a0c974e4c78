"""Make the README's pictures: ``python docs/figures.py`` (needs scikit-image).

- docs/gaussian_rgb_lab.png: a colour photograph, the lecture's Gaussian
  11x11, sigma = 5 filtered per channel in RGB, and in CIELAB.
- docs/gradient_colour_grey.png: the colour gradient (Di Zenzo, in CIELAB)
  beside the grey Sobel of the luma, edges dark on white as in the lecture.

Every picture is computed with filterkit's public API; the script only
arranges and labels them.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageDraw

import filterkit

HERE = os.path.dirname(os.path.abspath(__file__))


def photo() -> np.ndarray:
    from skimage import data

    return data.astronaut()[20:276, 150:406]  # 256 x 256: face, flag, suit


def labelled(tiles, labels, scale: int = 2) -> Image.Image:
    """Tiles side by side (each enlarged `scale` times), a caption under each."""
    h, w = tiles[0].shape[:2]
    gap, caption = 8, 22
    canvas = Image.new("RGB", (len(tiles) * (w * scale + gap) - gap, h * scale + caption), "white")
    draw = ImageDraw.Draw(canvas)
    for k, (tile, label) in enumerate(zip(tiles, labels)):
        im = Image.fromarray(tile if tile.ndim == 3 else np.stack([tile] * 3, -1))
        x = k * (w * scale + gap)
        canvas.paste(im.resize((w * scale, h * scale), Image.NEAREST), (x, 0))
        draw.text((x + 4, h * scale + 5), label, fill="black")
    return canvas


def edges_dark_on_white(strength: np.ndarray) -> np.ndarray:
    """v / (99th percentile) inverted, as 8 bit: edges dark on white."""
    top = float(np.percentile(strength, 99)) or 1.0
    return (255 - np.clip(strength / top, 0, 1) * 255).round().astype(np.uint8)


def main() -> None:
    rgb = photo()
    in_rgb = filterkit.gaussian(rgb, 5.0, size=11, channel_axis=-1, space="rgb")
    in_lab = filterkit.gaussian(rgb, 5.0, size=11, channel_axis=-1, space="lab")
    labelled([rgb, in_rgb, in_lab],
             ["photograph", "Gaussian 11x11, sigma 5, per RGB channel", "the same in CIELAB"]
             ).save(os.path.join(HERE, "gaussian_rgb_lab.png"), optimize=True)
    colour = filterkit.sobel(rgb, channel_axis=-1, space="lab")
    grey = filterkit.sobel(rgb, channel_axis=-1, space="gray")
    labelled([rgb, edges_dark_on_white(colour), edges_dark_on_white(grey)],
             ["photograph", "colour gradient (Di Zenzo, CIELAB)", "Sobel of the luma"]
             ).save(os.path.join(HERE, "gradient_colour_grey.png"), optimize=True)
    print("wrote docs/gaussian_rgb_lab.png and docs/gradient_colour_grey.png")


if __name__ == "__main__":
    main()
