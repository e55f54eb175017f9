#!/usr/bin/env python3
"""Forward-model throughput: `vina simulate` against pelagic's KRAKENC on the same environments.

Usage (from the repository root):
    python3 bench/forward_throughput.py --vina target/release/vina [--samples 20000] [--pelagic-envs 200]
        [--repeats 3] [--out bench/forward_throughput.csv]

For each scenario (scenarios/gi-pekeris.toml, scenarios/swellex-layered.toml):
  1. `vina simulate --scenario S --samples N --out TMP --seed 7` with RAYON_NUM_THREADS=1 and =2,
     timed as whole commands (process start, parsing, prior draws, 7 tones x 5 receivers of
     modes and pressure, noise, features and the safetensors write; nothing subtracted).
  2. The x tensor of that file is read back and the first M environments (same parameter draws,
     same 7 tones, same source and 5 receivers) are solved by pelagic's KRAKENC + FIELD in this
     process, one environment (one pelagic case holding the 7 tones) after another on one core:
     once on pelagic's default (automatic) mesh and once on the fine mesh that
     bench/forward_crosscheck.py needs for 1e-3 agreement.
Repeats alternate between the engines so that both see the same machine load; the medians over
repeats are reported, with CPU seconds beside wall seconds (the CPU time is the better figure on
a machine that other work shares). Throughput is environments per second; "per core" divides by
the threads used; the ratio is vina's per-core rate over pelagic's (single-core) rate.

Dependencies: pelagic, numpy, safetensors (versions are printed and written to the CSV).
"""
import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pelagic
import safetensors
from safetensors import safe_open

SCENARIOS = ("gi-pekeris", "swellex-layered")
FINE_WATER_MESH = 4000  # as in bench/cases (forward_crosscheck.py)


def read_fixed(scenario_path):
    """The scenario's fixed parameters (numbers), read from its TOML."""
    import tomllib
    with open(scenario_path, "rb") as fh:
        p = tomllib.load(fh)["parameters"]
    return {k: float(v) for k, v in p.items() if isinstance(v, (int, float))}


def pelagic_doc(params, tones, receivers, fine):
    d = params["water_depth_m"]
    cw, rw = params["water_sound_speed_mps"], params["water_density_gcc"]
    water = {"to": d, "ssp": [[0.0, cw, 0.0, rw, 0.0], [d, cw, 0.0, rw, 0.0]]}
    media = [water]
    if fine:
        water["mesh"] = FINE_WATER_MESH
    if "sediment_thickness_m" in params:
        h = params["sediment_thickness_m"]
        cs, rs, a_s = (params["sediment_sound_speed_mps"], params["sediment_density_gcc"],
                       params["sediment_attenuation_db_per_wavelength"])
        sed = {"to": d + h, "ssp": [[d, cs, 0.0, rs, a_s], [d + h, cs, 0.0, rs, a_s]]}
        if fine:
            sed["mesh"] = max(200, int(round(500 * h / 23.5)))
        media.append(sed)
    cb = params["bottom_sound_speed_mps"]
    zs, r = params["source_depth_m"], params["source_range_m"]
    return {
        "pelagic": 2, "model": "kraken", "title": "throughput",
        "frequency": list(tones), "interpolation": "c_linear", "media": media, "surface": "vacuum",
        "bottom": {"type": "halfspace", "cp": cb, "rho": params["bottom_density_gcc"],
                   "ap": params["bottom_attenuation_db_per_wavelength"]},
        "source": {"depth": [zs]},
        "receivers": {"depth": list(receivers), "range": [r]},
        "kraken": {"solver": "krakenc", "phase_speed": [1400.0, cb], "max_range": 2.0 * r,
                   "mode_limit": 9999, "mode_depths": sorted(set([zs] + list(receivers)))},
    }


def time_vina(binary, scenario, samples, threads, out_dir, seed):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    shutil.rmtree(out_dir, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([binary, "simulate", "--scenario", scenario, "--simulations", str(samples),
                    "--out", out_dir, "--seed", str(seed)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def time_pelagic(docs):
    """Solve each environment in turn (one core); (wall, cpu, failures, results)."""
    failures, results = 0, []
    t0, c0 = time.perf_counter(), time.process_time()
    for d in docs:
        try:
            results.append(pelagic.kraken.Case.from_dict(d).run())
        except pelagic.PelagicError:
            failures += 1
            results.append(None)
    return time.perf_counter() - t0, time.process_time() - c0, failures, results


def pressure_of(res, n_tones, n_rec):
    p = np.full((n_tones, n_rec), np.nan + 0j)
    if res is None:
        return p
    for t, fr in enumerate(res.frequencies):
        p[t] = np.asarray(fr.field.pressure)[0, :, 0]
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vina", default="target/release/vina")
    ap.add_argument("--samples", type=int, default=20000, help="environments per vina run")
    ap.add_argument("--pelagic-envs", type=int, default=200, help="environments per pelagic run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=None, help="CSV file")
    args = ap.parse_args()

    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    versions = (f"vina {subprocess.run([args.vina, '--version'], capture_output=True, text=True).stdout.strip()} "
                f"({args.vina}); pelagic {pelagic.__version__}; numpy {np.__version__}; "
                f"safetensors {safetensors.__version__}; Python {platform.python_version()}")
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(versions)
    print(f"machine: {os.cpu_count()} CPUs ({cpu}); load average at start {os.getloadavg()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scen in SCENARIOS:
            path = os.path.join(root, "scenarios", f"{scen}.toml")
            fixed = read_fixed(path)
            out_dir = os.path.join(tmp, scen)
            vina_runs = {1: [], 2: []}
            pel_runs = {False: [], True: []}
            loads = []
            docs = {}
            x = None
            for rep in range(args.repeats):
                for threads in (1, 2):
                    vina_runs[threads].append(time_vina(args.vina, path, args.samples, threads, out_dir, args.seed))
                    loads.append(os.getloadavg()[0])
                if x is None:
                    with safe_open(os.path.join(out_dir, "shard-00000-of-00001.safetensors"), "np") as f:
                        meta = json.loads(f.metadata()["vina"])
                        x = f.get_tensor("x")[: args.pelagic_envs]
                        y_shape = f.get_tensor("y").shape
                    names = meta["parameters"]
                    tones, receivers = meta["tones_hz"], meta["receiver_depths_m"]
                    envs = [dict(fixed, **dict(zip(names, map(float, row)))) for row in x]
                    for fine in (False, True):
                        docs[fine] = [pelagic_doc(e, tones, receivers, fine) for e in envs]
                    print(f"\n{scen}: {args.samples} environments per vina run (y {y_shape}); pelagic on the "
                          f"first {len(envs)} of the same draws ({', '.join(names)}), "
                          f"{len(tones)} tones x {len(receivers)} receivers")
                for fine in (False, True):
                    pel_runs[fine].append(time_pelagic(docs[fine]))
                    loads.append(os.getloadavg()[0])
                print(f"  repeat {rep + 1}: vina 1 thread {vina_runs[1][-1][0]:.2f} s, 2 threads "
                      f"{vina_runs[2][-1][0]:.2f} s; pelagic default mesh {pel_runs[False][-1][0]:.2f} s, "
                      f"fine mesh {pel_runs[True][-1][0]:.2f} s; load {loads[-1]:.1f}")

            # Accuracy of what was timed: pelagic (both meshes) against vina's clean pressure for
            # the same draws (a --snr 300 run of the same seed: the same x, noise 1e-15 of |p|).
            clean_dir = os.path.join(tmp, scen + "-clean")
            subprocess.run([args.vina, "simulate", "--scenario", path, "--simulations", str(len(x)),
                            "--out", clean_dir, "--seed", str(args.seed), "--snr", "300"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with safe_open(os.path.join(clean_dir, "shard-00000-of-00001.safetensors"), "np") as f:
                assert np.array_equal(f.get_tensor("x"), x), "the clean run drew different parameters"
                pv = f.get_tensor("pressure")
            pv = pv[..., 0] + 1j * pv[..., 1]
            acc = {}
            for fine in (False, True):
                errs = []
                for i, res in enumerate(pel_runs[fine][0][3]):
                    pp = pressure_of(res, len(tones), len(receivers))
                    if res is None or any(len(fr.profiles[0].modes.wavenumbers) == 0 for fr in res.frequencies):
                        continue
                    errs.append(np.max(np.abs(pv[i] - pp), axis=1) / np.max(np.abs(pp), axis=1))
                errs = np.concatenate(errs) if errs else np.array([np.nan])
                acc[fine] = (float(np.median(errs)), float(np.max(errs)), float(np.mean(errs > 1e-3)))

            med = lambda xs: statistics.median(xs)
            pel_rate = {}
            for fine in (False, True):
                wall = med([r[0] for r in pel_runs[fine]])
                cpu_s = med([r[1] for r in pel_runs[fine]])
                n = args.pelagic_envs
                pel_rate[fine] = (n / wall, n / cpu_s)
                rows.append(dict(
                    scenario=scen, engine="pelagic KRAKENC+FIELD", mesh="fine" if fine else "default",
                    threads=1, environments=n, repeats=args.repeats, median_wall_s=wall, median_cpu_s=cpu_s,
                    env_per_s=n / wall, env_per_s_per_core=n / wall, env_per_cpu_s=n / cpu_s,
                    failures=pel_runs[fine][0][2],
                    p_err_median=acc[fine][0], p_err_max=acc[fine][1], p_err_frac_over_1e3=acc[fine][2]))
            for threads in (1, 2):
                wall = med([r[0] for r in vina_runs[threads]])
                cpu_s = med([r[1] for r in vina_runs[threads]])
                n = args.samples
                rows.append(dict(
                    scenario=scen, engine="vina simulate", mesh="exact", threads=threads, environments=n,
                    repeats=args.repeats, median_wall_s=wall, median_cpu_s=cpu_s, env_per_s=n / wall,
                    env_per_s_per_core=n / wall / threads, env_per_cpu_s=n / cpu_s, failures=0))
            for r in rows:
                if r["scenario"] == scen and r["engine"] == "vina simulate":
                    for fine in (False, True):
                        tag = "fine" if fine else "default"
                        r[f"ratio_per_core_vs_pelagic_{tag}"] = r["env_per_s_per_core"] / pel_rate[fine][0]
                        r[f"ratio_cpu_vs_pelagic_{tag}"] = r["env_per_cpu_s"] / pel_rate[fine][1]
            print(f"  load average during {scen}: median {med(loads):.1f}, max {max(loads):.1f}")

    cols = ["scenario", "engine", "mesh", "threads", "environments", "repeats", "median_wall_s", "median_cpu_s",
            "env_per_s", "env_per_s_per_core", "env_per_cpu_s", "ratio_per_core_vs_pelagic_default",
            "ratio_per_core_vs_pelagic_fine", "ratio_cpu_vs_pelagic_default", "ratio_cpu_vs_pelagic_fine",
            "failures", "p_err_median", "p_err_max", "p_err_frac_over_1e3"]

    def cell(v):
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    text = [f"# bench/forward_throughput.py; {versions}",
            f"# machine: {os.cpu_count()} CPUs ({cpu}), shared with other work (see bench/README.md); "
            f"medians over {args.repeats} repeats; p_err_* = max|p_pelagic - p_vina|/max|p| per tone over the "
            f"timed pelagic environments (failures excluded)",
            ",".join(cols)]
    text += [",".join(cell(r.get(c)) for c in cols) for r in rows]
    print()
    print("\n".join(text))
    if args.out:
        with open(args.out, "w") as fh:
            fh.write("\n".join(text) + "\n")
    bad = [r for r in rows if r["engine"] == "vina simulate" and r["threads"] == 1
           and r["ratio_per_core_vs_pelagic_default"] < 20]
    if bad:
        print(f"\nbelow the 20x target (per core, against pelagic's default mesh): "
              f"{[(r['scenario'], round(r['ratio_per_core_vs_pelagic_default'], 1)) for r in bad]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
