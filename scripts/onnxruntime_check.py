#!/usr/bin/env python3
"""Check an exported ONNX sampling graph in onnxruntime against `vina invert --engine core`.

Both get the same observation features y and the same latents z (drawn here with numpy);
the samples must agree within 1e-5 (relative to max(1, |x|)), the tolerance tract's
engine meets in host/tests/invert.rs.

    pip install onnxruntime numpy
    python3 scripts/onnxruntime_check.py --model models/gi-pekeris-cinn.vina \
        --onnx models/gi-pekeris-cinn.onnx --observation obs.json [--vina target/debug/vina]

Prints one line per check and exits non-zero on a mismatch.
"""
import argparse
import json
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--observation", required=True)
    ap.add_argument("--vina", default="target/debug/vina")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()

    sess = ort.InferenceSession(a.onnx, providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in sess.get_inputs()}
    assert list(inputs) == ["y", "z"], f"inputs {list(inputs)}"
    assert [o.name for o in sess.get_outputs()] == ["x"]
    latent = inputs["z"].shape[1]

    z = np.random.default_rng(0).standard_normal((a.samples, latent)).astype(np.float32)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(z.tolist(), f)
        zfile = f.name
    out = subprocess.run(
        [a.vina, "invert", "--engine", "core", "--model", a.model, "--observation", a.observation,
         "--latent", zfile, "--json"],
        check=True, capture_output=True, text=True,
    )
    core = json.loads(out.stdout)
    y = np.asarray(core["y"], dtype=np.float32)
    x_core = np.asarray(core["samples"], dtype=np.float32)

    (x_ort,) = sess.run(["x"], {"y": np.tile(y, (a.samples, 1)), "z": z})
    rel = np.abs(x_ort - x_core) / np.maximum(1.0, np.maximum(np.abs(x_ort), np.abs(x_core)))
    worst = float(rel.max())
    print(f"onnxruntime {ort.__version__} vs vina-core: {a.samples} samples, "
          f"largest relative difference {worst:.2e} (tolerance {a.tol:.0e})")
    if worst > a.tol:
        sys.exit(1)


if __name__ == "__main__":
    main()
