#!/usr/bin/python3
"""Generate the reference data of the ngc/metrics tests.

This tool was run once, by hand, to create the files next to it:

    cd ngc/metrics/testdata && /usr/bin/python3 gen_expected.py

The Go tests only read its outputs and never run it, so they need no Python.
It was run with Debian bookworm's python3-numpy 1.24.2, python3-scipy 1.10.1
and python3-skimage 0.19.3 (the versions are recorded in expected.json).

For each case it writes <name>.bin: the original batch x followed by the
reconstruction xhat, each N*C*H*W little-endian float32 values in NCHW order
with pixels in [0, 1]. expected.json holds, per case and per image, values
computed independently of the Go code from exactly those float32 values
rescaled to [0, 255] in float64:

  mse            Eq. 4 of the paper (numpy): per-channel mean of squared
                 differences, averaged over channels, then over images.
  psnr           Eq. 6 (numpy): 20*log10(255/sqrt(mse_c)) per image and
                 channel, capped at 100 dB (so mse_c == 0 gives 100), averaged.
  ssim           Eq. 5 (numpy): one global window per image and channel,
                 population variances and covariance, Q = 255.
  ssim_gaussian  skimage.metrics.structural_similarity(gaussian_weights=True,
                 sigma=1.5, use_sample_covariance=False, data_range=255,
                 channel_axis=0) per image, averaged over images.
"""

import json

import numpy as np
import scipy
import skimage
from skimage.metrics import structural_similarity

MAX_PSNR = 100.0
Q = 255.0
C1 = (0.01 * Q) ** 2
C2 = (0.03 * Q) ** 2


def case_noisy_rgb(rs):
    """Uniform noise images and a Gaussian-noise reconstruction."""
    x = rs.rand(2, 3, 16, 16)
    xhat = np.clip(x + 0.1 * rs.randn(*x.shape), 0, 1)
    return x, xhat


def case_min_size_gray(rs):
    """Single-channel 11x11 images: the smallest the Gaussian SSIM accepts."""
    n, h, w = np.meshgrid(np.arange(3), np.arange(11), np.arange(11), indexing="ij")
    x = (0.5 + 0.4 * np.sin(0.5 * h + 0.3 * w + n))[:, None]
    xhat = 0.8 * x + 0.1 + 0.05 * rs.randn(*x.shape)
    return x, np.clip(xhat, 0, 1)


def case_non_square(rs):
    """Smooth 12x20 patterns and a shifted, damped reconstruction (no noise)."""
    n, c, h, w = np.meshgrid(np.arange(2), np.arange(2), np.arange(12),
                             np.arange(20), indexing="ij")
    x = 0.5 + 0.5 * np.sin(0.3 * h + 0.2 * w + n + c)
    xhat = 0.5 + 0.45 * np.sin(0.3 * h + 0.21 * w + n + c + 0.1)
    return x, xhat


def case_special_channels(rs):
    """32x32 RGB with edge cases in image 0: channel 0 exact (PSNR cap),
    channel 1 constant 0.5 (zero variance), channel 2 inverted (negative
    SSIM); image 1 is a mildly noisy reconstruction of a smooth image."""
    x = rs.rand(2, 3, 32, 32)
    # Smooth image 1 with a 3x3 box average so it has local structure.
    s = x[1].copy()
    for axis in (1, 2):
        s = (np.roll(s, 1, axis) + s + np.roll(s, -1, axis)) / 3
    x[1] = s
    xhat = np.empty_like(x)
    xhat[0, 0] = x[0, 0]
    xhat[0, 1] = 0.5
    xhat[0, 2] = 1 - x[0, 2]
    xhat[1] = np.clip(x[1] + 0.05 * rs.randn(3, 32, 32), 0, 1)
    return x, xhat


CASES = [
    ("noisy_rgb", case_noisy_rgb),
    ("min_size_gray", case_min_size_gray),
    ("non_square", case_non_square),
    ("special_channels", case_special_channels),
]


def per_image(x, y):
    """Metrics of one C x H x W image pair on the [0, 255] scale."""
    mse_c, psnr_c, ssim_c = [], [], []
    for xc, yc in zip(x, y):
        m = np.mean((yc - xc) ** 2)
        mse_c.append(m)
        if m == 0:
            psnr_c.append(MAX_PSNR)
        else:
            psnr_c.append(min(20 * np.log10(255.0 / np.sqrt(m)), MAX_PSNR))
        mx, my = xc.mean(), yc.mean()
        vx, vy = xc.var(), yc.var()  # population (ddof=0)
        cxy = np.mean((xc - mx) * (yc - my))
        ssim_c.append((2 * mx * my + C1) * (2 * cxy + C2)
                      / ((mx ** 2 + my ** 2 + C1) * (vx + vy + C2)))
    gauss = structural_similarity(x, y, channel_axis=0, gaussian_weights=True,
                                  sigma=1.5, use_sample_covariance=False,
                                  data_range=255)
    return {
        "mse": float(np.mean(mse_c)),
        "psnr": float(np.mean(psnr_c)),
        "ssim": float(np.mean(ssim_c)),
        "ssim_gaussian": float(gauss),
        "images": 1,
    }


def main():
    rs = np.random.RandomState(20240601)
    out = {
        "generator": "gen_expected.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__,
                     "skimage": skimage.__version__},
        "cases": [],
    }
    for name, make in CASES:
        x, xhat = make(rs)
        x = x.astype(np.float32)
        xhat = xhat.astype(np.float32)
        with open(name + ".bin", "wb") as f:
            f.write(x.astype("<f4").tobytes())
            f.write(xhat.astype("<f4").tobytes())
        x64 = x.astype(np.float64) * 255.0
        y64 = xhat.astype(np.float64) * 255.0
        imgs = [per_image(a, b) for a, b in zip(x64, y64)]
        mean = {k: float(np.mean([r[k] for r in imgs]))
                for k in ("mse", "psnr", "ssim", "ssim_gaussian")}
        mean["images"] = len(imgs)
        n, c, h, w = x.shape
        out["cases"].append({
            "name": name,
            "file": name + ".bin",
            "shape": {"n": n, "c": c, "h": h, "w": w},
            "mean": mean,
            "per_image": imgs,
        })
    with open("expected.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
