"""Real images and classic 3x3 filters for the convolution layer's tests, compare and demo.

The images come with scikit-learn (no download): the 1797 8x8 digits (pixels 0..16) and the
427x640 RGB photograph ``china.jpg`` (read through Pillow). Everything is returned as int64
arrays of shape ``(N, C, H, W)`` or ``(C, H, W)``, ready for :class:`Conv2dParams`.
"""

import numpy as np

__all__ = ["FILTERS", "digits", "photo", "to_signed8", "named_filter"]

# 3x3 integer filters. Edge: the Laplacian and Sobel-x; blur: the binomial (Gaussian) kernel
# (its sum is 16, so the result is 16x the blurred image; a shift normalises it).
FILTERS = {
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "blur": [[1, 2, 1], [2, 4, 2], [1, 2, 1]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
}


def named_filter(name, channels=1):
    """``FILTERS[name]`` repeated over ``channels``: shape ``(C, 3, 3)``."""
    try:
        g = np.asarray(FILTERS[name], dtype=np.int64)
    except KeyError:
        raise ValueError(f"unknown filter {name!r}; choose one of: {', '.join(FILTERS)}") \
            from None
    return np.repeat(g[None], channels, axis=0)


def digits():
    """All 1797 scikit-learn digits as ``(1797, 1, 8, 8)``, pixels 0..16."""
    from sklearn.datasets import load_digits  # only the data needs scikit-learn

    return np.asarray(load_digits().images, dtype=np.int64)[:, None]


def photo(top=0, left=0, height=427, width=640):
    """A crop of scikit-learn's ``china.jpg`` as ``(3, height, width)`` (RGB), pixels 0..255."""
    from sklearn.datasets import load_sample_image  # needs Pillow for the JPEG

    img = np.asarray(load_sample_image("china.jpg"), dtype=np.int64)
    if not (0 <= top and 0 <= left and 1 <= height and 1 <= width
            and top + height <= img.shape[0] and left + width <= img.shape[1]):
        raise ValueError(f"crop {height}x{width} at ({top}, {left}) is outside the "
                         f"{img.shape[0]}x{img.shape[1]} photo")
    return img[top:top + height, left:left + width].transpose(2, 0, 1).copy()


def to_signed8(pixels):
    """Unsigned 8-bit pixels (0..255) to signed 8-bit data (-128..127): ``p - 128``."""
    return np.asarray(pixels, dtype=np.int64) - 128
