"""How hard is the paper INN's forward map on raw pressure? (docs/loss-study.md,
"Paper INN on raw pressure").

A noise-in-x INN must emulate theta -> clean observation g(theta) inside its couplings
well below the noise (its posterior is the posterior of the emulated forward model).
This fits g by linear least squares on random Fourier features cos(W.theta + b) of the
normalized theta, W ~ N(0, scale^2): the validation MSE (normalized y, the unit the
trainer's fit term reports) tells how many features, and how high a bandwidth, a
network needs before its fit reaches the noise level.

    vina simulate --scenario scenarios/gi-pekeris-raw.toml --simulations 100000 --seed 1 \
        --out data/gi-pekeris-raw
    python3 docs/loss-study/emulation_check.py data/gi-pekeris-raw
"""
import glob
import sys

import numpy as np
from safetensors.numpy import load_file

d = load_file(sorted(glob.glob(sys.argv[1] + "/*.safetensors"))[0])
x, y, yc = d["x"], d["y"].astype(np.float64), d["y_clean"].astype(np.float64)
mu, sd = y.mean(0), y.std(0)
clean, noisy = (yc - mu) / sd, (y - mu) / sd
theta = (x - x.mean(0)) / x.std(0)
print(f"noise MSE in normalized y: {((noisy - clean) ** 2).mean():.4f}")
n_train = 80_000
rng = np.random.default_rng(0)
print("features  scale  validation MSE of g")
for features, scale in [(256, 6.0), (1024, 6.0), (2048, 6.0), (4096, 8.0), (4096, 12.0)]:
    w = rng.normal(0.0, scale, (2, features))
    b = rng.uniform(0.0, 2 * np.pi, features)
    phi = np.cos(theta @ w + b)
    a = phi[:n_train]
    coef = np.linalg.solve(a.T @ a + 1e-6 * np.eye(features), a.T @ clean[:n_train])
    mse = ((phi[n_train:] @ coef - clean[n_train:]) ** 2).mean()
    print(f"{features:8d}  {scale:5.1f}  {mse:.2e}", flush=True)
