#!/usr/bin/env python3
"""Training-step throughput: `vina train` (Burn `flex`) against PyTorch + FrEIA, side by side.

Both train the same network on the same data subset with the same batch (512), optimizer
(Adam, betas (0.8, 0.9), weight decay 2e-5, global grad-norm clip 1.0) and loss (maximum
likelihood), on the same number of threads:

- `cinn`: configs/gi-pekeris-cinn.toml on the RTF features (63 values): condition network
  63 -> 64 -> 32 (ReLU), 4 x [ActNorm, GLOWCouplingBlock(2 dims, condition 32, subnets 48-48,
  clamp 2 atan), PermuteRandom].
- `paper-inn`: bench/paper-inn-padded.toml on raw pressure (70 values): x (2) padded with
  N(0, 0.01^2) noise to 88 dims, 3 x [GLOWCouplingBlock(88, subnets 64-64, clamp 2),
  PermuteRandom]; loss 1/2|z|^2 - log|det J| + 1/2|y_hat - y|^2.

Throughput = training samples of an epoch / seconds of its training loop (data batching,
forward, backward, clipping, optimizer step; no validation, no checkpoint), as `vina train`
writes it to metrics.csv. The first epoch of each run is dropped as warm-up. Engines
alternate run by run (vina, torch, vina, torch, ...), and the figures are medians over all
kept epochs of all runs.

    python3 -m venv /work/venv-bench
    /work/venv-bench/bin/pip install torch freia numpy safetensors matplotlib
    cargo build --release -p vina-host --bin vina      # release: what users run (bench/README.md)
    /work/venv-bench/bin/python bench/train_throughput.py --vina target/release/vina \
        --cinn-data data/gi-pekeris --inn-data data/gi-pekeris-raw

Writes bench/train_throughput.csv (one row per epoch), bench/train_throughput.png and a
summary on stdout.
"""
import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIGS = {"cinn": ROOT / "configs/gi-pekeris-cinn.toml", "paper-inn": ROOT / "bench/paper-inn-padded.toml"}


# --------------------------------------------------------------------------------- vina side
def vina_config(model, epochs, max_samples):
    """The committed config with fewer epochs, a subset and no progress bar."""
    out = []
    for line in CONFIGS[model].read_text().splitlines():
        key = line.split("=")[0].strip()
        if key == "epochs":
            line = f"epochs = {epochs}"
        elif key == "max_samples":
            line = f"max_samples = {max_samples}"
        elif key == "progress":
            line = "progress = false"
        out.append(line)
    return "\n".join(out) + "\n"


def run_vina(vina, model, data, epochs, max_samples, threads, tmp):
    cfg = Path(tmp) / f"{model}.toml"
    cfg.write_text(vina_config(model, epochs, max_samples))
    run = Path(tmp) / f"run-{model}-{time.monotonic_ns()}"
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    subprocess.run([vina, "train", "--data", str(data), "--config", str(cfg), "--out", str(run)],
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    return [float(r["samples_per_s"]) for r in rows]


# -------------------------------------------------------------------------------- torch side
def torch_worker(a):
    """Runs in its own process (so the thread count is set before torch starts)."""
    import numpy as np
    import torch
    import torch.nn as nn
    import FrEIA.framework as Ff
    import FrEIA.modules as Fm
    from safetensors.numpy import load_file

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    shards = sorted(Path(a.data).glob("*.safetensors"))
    t = [load_file(str(s)) for s in shards]
    x = np.concatenate([s["x"] for s in t]).astype(np.float32)
    y = np.concatenate([s["y"] for s in t]).astype(np.float32).reshape(len(x), -1)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(x))[: a.max_samples]
    n_val = round(len(idx) * 0.1)
    train = idx[n_val:]
    x, y = x[train], y[train]
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean(0)) / y.std(0)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    n, x_dim, y_dim = x.shape[0], x.shape[1], y.shape[1]

    def subnet(hidden):
        def make(c_in, c_out):
            layers, w = [], c_in
            for h in hidden:
                layers += [nn.Linear(w, h), nn.ReLU()]
                w = h
            last = nn.Linear(w, c_out)
            nn.init.zeros_(last.weight)  # last_layer_scale = 0: blocks start as the identity
            nn.init.zeros_(last.bias)
            return nn.Sequential(*layers, last)
        return make

    if a.model == "cinn":
        cond_net = nn.Sequential(nn.Linear(y_dim, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        flow = Ff.SequenceINN(x_dim)
        for k in range(4):
            flow.append(Fm.ActNorm)
            flow.append(Fm.GLOWCouplingBlock, cond=0, cond_shape=(32,),
                        subnet_constructor=subnet([48, 48]), clamp=2.0)
            flow.append(Fm.PermuteRandom, seed=k)
        params = list(cond_net.parameters()) + list(flow.parameters())

        def loss_fn(xb, yb):
            z, log_det = flow(xb, c=[cond_net(yb)])
            return (0.5 * z.square().sum(1) - log_det).mean()
    else:
        dim = 88
        flow = Ff.SequenceINN(dim)
        for k in range(3):
            flow.append(Fm.GLOWCouplingBlock, subnet_constructor=subnet([64, 64]), clamp=2.0)
            flow.append(Fm.PermuteRandom, seed=k)
        params = list(flow.parameters())

        def loss_fn(xb, yb):
            pad = 0.01 * torch.randn(xb.shape[0], dim - x_dim)
            out, log_det = flow(torch.cat([xb, pad], 1))
            y_hat, z = out[:, :y_dim], out[:, y_dim:]
            return (0.5 * z.square().sum(1) - log_det + 0.5 * (y_hat - yb).square().sum(1)).mean()

    opt = torch.optim.Adam(params, lr=3e-4, betas=(0.8, 0.9), weight_decay=2e-5)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.98)
    rates = []
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n)
        for b in range(0, n, 512):
            i = order[b:b + 512]
            if len(i) < 2:
                continue
            loss = loss_fn(x[i], y[i])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        sched.step()
        rates.append(n / (time.perf_counter() - t0))
    print(json.dumps({"rates": rates, "torch": torch.__version__, "loss": float(loss)}))


def run_torch(model, data, epochs, max_samples, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, __file__, "--torch-worker", "--model", model,
                          "--data", str(data), "--epochs", str(epochs),
                          "--max-samples", str(max_samples), "--threads", str(threads)],
                         check=True, env=env, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------ driver
def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = sorted({(r["model"], int(r["threads"])) for r in rows})
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.38
    for j, engine in enumerate(["vina", "torch"]):
        med = []
        for m, th in keys:
            v = [float(r["samples_per_s"]) for r in rows
                 if r["engine"] == engine and r["model"] == m and int(r["threads"]) == th]
            med.append(statistics.median(v) if v else 0)
        xs = [i + (j - 0.5) * width for i in range(len(keys))]
        ax.bar(xs, med, width, label="vina (Burn flex)" if engine == "vina" else "PyTorch + FrEIA")
        for xx, v in zip(xs, med):
            ax.text(xx, v, f"{v/1000:.0f}k", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([f"{m}\n{th} thread{'s' if th > 1 else ''}" for m, th in keys])
    ax.set_ylabel("training samples / s (median epoch)")
    ax.set_title("Training-step throughput, batch 512, CPU")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="cinn")
    ap.add_argument("--data")
    ap.add_argument("--vina", default="target/release/vina")
    ap.add_argument("--cinn-data", default="data/gi-pekeris")
    ap.add_argument("--inn-data", default="data/gi-pekeris-raw")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--max-samples", type=int, default=50000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--thread-counts", default="2,1")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "train_throughput.csv"))
    ap.add_argument("--plot", default=str(HERE / "train_throughput.png"))
    a = ap.parse_args()
    if a.torch_worker:
        return torch_worker(a)

    data = {"cinn": a.cinn_data, "paper-inn": a.inn_data}
    rows, torch_version = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(a.reps):
            for threads in [int(t) for t in a.thread_counts.split(",")]:
                for model in ["cinn", "paper-inn"]:
                    v = run_vina(a.vina, model, data[model], a.epochs, a.max_samples, threads, tmp)
                    t = run_torch(model, data[model], a.epochs, a.max_samples, threads)
                    torch_version = t["torch"]
                    for engine, rates in [("vina", v), ("torch", t["rates"])]:
                        for ep, r in enumerate(rates):
                            if ep == 0:
                                continue  # warm-up
                            rows.append({"model": model, "threads": threads, "rep": rep,
                                         "engine": engine, "epoch": ep + 1,
                                         "samples_per_s": round(r, 1)})
                    print(f"rep {rep} {model} {threads}t: vina {statistics.median(v[1:]):.0f}, "
                          f"torch {statistics.median(t['rates'][1:]):.0f} samples/s",
                          file=sys.stderr, flush=True)
    with open(a.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    try:
        plot(rows, a.plot)
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)
    print(f"# torch {torch_version} + FrEIA, {platform.processor() or platform.machine()}, "
          f"{a.max_samples} samples ({a.max_samples - round(a.max_samples * 0.1)} for training), "
          f"{a.epochs} epochs per run (first dropped), {a.reps} runs, load {os.getloadavg()[0]:.1f}")
    print("model,threads,vina_median,torch_median,ratio_vina_over_torch")
    for model in ["cinn", "paper-inn"]:
        for threads in [int(t) for t in a.thread_counts.split(",")]:
            med = {e: statistics.median(float(r["samples_per_s"]) for r in rows
                                        if r["engine"] == e and r["model"] == model
                                        and r["threads"] == threads) for e in ["vina", "torch"]}
            print(f"{model},{threads},{med['vina']:.0f},{med['torch']:.0f},"
                  f"{med['vina'] / med['torch']:.2f}")


if __name__ == "__main__":
    main()
