#!/usr/bin/env python3
"""Host inference, side by side: posterior samples per second for one observation (batch of
1000 latents) and single-sample latency (batch 1: the observation's features in, one
posterior sample out), for both committed models:

- vina-core (`host/examples/bench_inference.rs`: the firmware's code as `vina invert
  --engine core` runs it: condition network and per-observation caches once, then one
  inverse pass per latent; one thread), plus the same loop split over rayon's threads;
- vina-core batched (`vina_host::batch`, what `vina invert` and `vina eval` run by
  default: the same layers as matrix products over blocks of latents; 1 and 2 threads);
- tract (the exported ONNX graph, as `vina invert --engine tract` runs it; one thread);
- onnxruntime (same ONNX file; CPU provider, intra-op threads 1 and 2);
- PyTorch + FrEIA (eager, `torch.inference_mode`, threads 1 and 2): the same architecture
  (cINN: condition net 63-64-32, 4 x [ActNorm, GLOWCouplingBlock 48-48, PermuteRandom];
  INN: 3 x [GLOWCouplingBlock 64-64, PermuteRandom] over 88 dims), run with `rev=True`,
  with randomly initialized weights: the trained weights are not loaded, which does not
  change the work done. ActNorm stays a separate layer (vina's export folds it). The
  cINN's condition net runs once on the observation and its output is broadcast to the
  batch (what a user would write); the ONNX graphs take y per row and so recompute it.

Every engine gets the same y (row 0 of the data set's features) and the same latents; the
vina-core, tract and onnxruntime samples are checked against each other. The whole set is
repeated --rounds times, interleaved; figures are medians over rounds of each engine's
median-of-reps.

    vina simulate --scenario scenarios/gi-pekeris.toml --simulations 1000 --seed 1 --out data/gi-pekeris
    vina simulate --scenario scenarios/gi-pekeris-raw.toml --simulations 1000 --seed 1 --out data/gi-pekeris-raw
    cargo build --release -p vina-host --example bench_inference
    python3 bench/inference_throughput.py --example target/release/examples/bench_inference

Writes bench/inference_throughput.csv and bench/inference_throughput.png.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODELS = {
    "cinn": dict(vina=ROOT / "models/gi-pekeris-cinn.vina", int8=ROOT / "models/gi-pekeris-cinn-int8.vina",
                 onnx=ROOT / "models/gi-pekeris-cinn.onnx", data="data/gi-pekeris"),
    "paper-inn": dict(vina=ROOT / "models/gi-pekeris-inn.vina", int8=ROOT / "models/gi-pekeris-inn-int8.vina",
                      onnx=ROOT / "models/gi-pekeris-inn.onnx", data="data/gi-pekeris-raw"),
}


def median_time(f, reps, inner=1):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(inner):
            f()
        ts.append((time.perf_counter() - t) / inner)
    return statistics.median(ts)


def observation(data, latent, n, seed=0):
    from safetensors.numpy import load_file
    shard = sorted(Path(data).glob("*.safetensors"))[0]
    y = load_file(str(shard))["y"][0].reshape(-1).astype(np.float32)
    z = np.random.default_rng(seed).standard_normal((n, latent)).astype(np.float32)
    return y, z


def bench_ort(onnx, y, z, threads, reps, inner):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])
    yb = np.ascontiguousarray(np.tile(y, (len(z), 1)))
    y1, z1 = yb[:1].copy(), z[:1].copy()
    batch = median_time(lambda: s.run(["x"], {"y": yb, "z": z}), reps)
    lat = median_time(lambda: s.run(["x"], {"y": y1, "z": z1}), reps, inner)
    (x,) = s.run(["x"], {"y": yb, "z": z})
    return {"samples_per_s": len(z) / batch, "latency_s": lat}, x


def torch_worker(a):
    import torch
    import torch.nn as nn
    import FrEIA.framework as Ff
    import FrEIA.modules as Fm

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    io = json.loads(Path(a.input).read_text())
    y = torch.tensor(io["y"], dtype=torch.float32)[None]
    z = torch.tensor(io["z"], dtype=torch.float32)

    def subnet(hidden):
        def make(c_in, c_out):
            layers, w = [], c_in
            for h in hidden:
                layers += [nn.Linear(w, h), nn.ReLU()]
                w = h
            return nn.Sequential(*layers, nn.Linear(w, c_out))
        return make

    if a.model == "cinn":
        cond_net = nn.Sequential(nn.Linear(y.shape[1], 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        flow = Ff.SequenceINN(z.shape[1])
        for k in range(4):
            flow.append(Fm.ActNorm)
            flow.append(Fm.GLOWCouplingBlock, cond=0, cond_shape=(32,),
                        subnet_constructor=subnet([48, 48]), clamp=2.0)
            flow.append(Fm.PermuteRandom, seed=k)
        with torch.no_grad():
            flow(torch.randn(512, z.shape[1]), c=[torch.randn(512, 32)])  # ActNorm's data init

        def sample(zb):
            c = cond_net(y).expand(zb.shape[0], -1)
            return flow(zb, c=[c], rev=True)[0]
    else:
        flow = Ff.SequenceINN(y.shape[1] + z.shape[1])
        for k in range(3):
            flow.append(Fm.GLOWCouplingBlock, subnet_constructor=subnet([64, 64]), clamp=2.0)
            flow.append(Fm.PermuteRandom, seed=k)

        def sample(zb):
            v = torch.cat([y.expand(zb.shape[0], -1), zb], 1)
            return flow(v, rev=True)[0][:, :2]
    flow.eval()
    with torch.inference_mode():
        batch = median_time(lambda: sample(z), a.reps)
        lat = median_time(lambda: sample(z[:1]), a.reps, a.inner)
    print(json.dumps({"samples_per_s": len(z) / batch, "latency_s": lat, "torch": torch.__version__}))


def run_torch(model, inp, threads, reps, inner):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, __file__, "--torch-worker", "--model", model, "--input", inp,
                          "--threads", str(threads), "--reps", str(reps), "--inner", str(inner)],
                         check=True, env=env, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_example(exe, m, inp, reps, inner, threads=2):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([exe, "--model", str(m["vina"]), "--onnx", str(m["onnx"]), "--int8", str(m["int8"]),
                          "--input", inp, "--reps", str(reps), "--inner", str(inner)],
                         check=True, env=env, capture_output=True, text=True)
    return json.loads(out.stdout)


def plot(summary, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    engines = list(dict.fromkeys(r["engine"] for r in summary))
    for ax, metric, label in [(axes[0], "samples_per_s", "posterior samples / s (batch 1000)"),
                              (axes[1], "latency_us", "single-sample latency (µs)")]:
        w = 0.8 / 2
        for j, model in enumerate(["cinn", "paper-inn"]):
            vals = []
            for e in engines:
                r = [s for s in summary if s["engine"] == e and s["model"] == model]
                vals.append(r[0][metric] if r else 0)
            ys = [i + (j - 0.5) * w for i in range(len(engines))]
            ax.barh(ys, vals, w, label=model)
        ax.set_yticks(range(len(engines)))
        ax.set_yticklabels(engines, fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend()
    fig.suptitle("Host inference, one observation (CPU; log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model")
    ap.add_argument("--input")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--example", default="target/debug/examples/bench_inference")
    ap.add_argument("--example-o3", help="the same example built with vina-core at opt-level 3")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--inner", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--out", default=str(HERE / "inference_throughput.csv"))
    ap.add_argument("--plot", default=str(HERE / "inference_throughput.png"))
    a = ap.parse_args()
    if a.torch_worker:
        return torch_worker(a)

    rows = []
    checks = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {}
        for name, m in MODELS.items():
            latent = 2 if name == "cinn" else 18
            y, z = observation(m["data"], latent, a.batch)
            p = Path(tmp) / f"{name}.json"
            p.write_text(json.dumps({"y": y.tolist(), "z": z.tolist()}))
            inputs[name] = (str(p), y, z)
        for rnd in range(a.rounds):
            for name, m in MODELS.items():
                inp, y, z = inputs[name]

                def add(engine, threads, r):
                    rows.append({"round": rnd, "model": name, "engine": engine, "threads": threads,
                                 "samples_per_s": round(r["samples_per_s"], 1),
                                 "latency_us": round(r["latency_s"] * 1e6, 3)})

                exes = [("", a.example)] + ([(" (vina-core opt 3)", a.example_o3)] if a.example_o3 else [])
                for tag, exe in exes:
                    # The batched path on one thread (its two-thread figure comes from the run below).
                    e1 = run_example(exe, m, inp, a.reps, a.inner, threads=1)
                    add("vina-core batched" + tag, 1, e1["batched"])
                    e = run_example(exe, m, inp, a.reps, a.inner)
                    add("vina-core batched" + tag, e["batched"]["threads"], e["batched"])
                    add("vina-core f32" + tag, 1, e["core"])
                    add("vina-core int8" + tag, 1, e["core_int8"])
                    add("vina-core f32, rayon" + tag, e["core"]["parallel_threads"],
                        {"samples_per_s": e["core"]["parallel_samples_per_s"], "latency_s": float("nan")})
                    if not tag:
                        add("tract", 1, e["tract"])
                        x_core_head = np.asarray(e["x_core_head"], dtype=np.float32)
                        checks.append((name, "tract", e["tract_max_abs_diff_from_core"]))
                        checks.append((name, "int8", e["int8_max_abs_diff_from_f32"]))
                        checks.append((name, "batched", e["batched_max_abs_diff_from_core"]))
                        core = e["core"]
                for threads in (1, 2):
                    r, x = bench_ort(m["onnx"], y, z, threads, a.reps, a.inner)
                    add("onnxruntime", threads, r)
                    head = x.reshape(-1)[: len(x_core_head)]
                    checks.append((name, "onnxruntime", float(np.abs(head - x_core_head).max())))
                if not a.no_torch:
                    for threads in (1, 2):
                        add("PyTorch + FrEIA", threads, run_torch(name, inp, threads, a.reps, a.inner))
                print(f"round {rnd} {name}: vina-core {core['samples_per_s']:.0f}/s "
                      f"{core['latency_s']*1e6:.1f} µs (prepare {core['prepare_s']*1e6:.1f} µs)",
                      file=sys.stderr, flush=True)
    with open(a.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    summary = []
    for key in dict.fromkeys((r["model"], r["engine"], r["threads"]) for r in rows):
        rs = [r for r in rows if (r["model"], r["engine"], r["threads"]) == key]
        engine = f"{key[1]}, {key[2]} thread{'s' if key[2] > 1 else ''}"
        summary.append({"model": key[0], "engine": engine,
                        "samples_per_s": statistics.median(r["samples_per_s"] for r in rs),
                        "latency_us": statistics.median(r["latency_us"] for r in rs)})
    try:
        plot(summary, a.plot)
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)
    print(f"# batch {a.batch}, {a.rounds} rounds x {a.reps} reps, latency over {a.inner} calls; "
          f"load {os.getloadavg()[0]:.1f}")
    for name, what, d in checks[:6]:
        print(f"# check {name}: {what} max |x - x_core| = {d:.2e}")
    print("model,engine,samples_per_s,latency_us,throughput_vs_ort1,latency_vs_ort1")
    for s in summary:
        ref = next(t for t in summary if t["model"] == s["model"] and t["engine"] == "onnxruntime, 1 thread")
        print(f"{s['model']},\"{s['engine']}\",{s['samples_per_s']:.0f},{s['latency_us']:.2f},"
              f"{s['samples_per_s'] / ref['samples_per_s']:.2f},{s['latency_us'] / ref['latency_us']:.2f}")


if __name__ == "__main__":
    main()
