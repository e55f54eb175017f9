#!/usr/bin/env python3
"""Cross-check the `.env` phase-speed window (CLOW, CHIGH), the `.flp` mode limit M and
several `.flp` ranges of `vina forward` against pelagic's KRAKENC + FIELD.

Usage (from the repository root):
    python3 bench/forward_window_crosscheck.py [--vina target/debug/vina] [--write-fixture]

Cases (files in host/tests/fixtures/): a gi-like lossy Pekeris at 148 Hz (16 trapped modes)
  window    CLOW..CHIGH = 1580..1650 m/s (7 modes), M = 9999, ranges 1, 3, 5 km
  m5        CLOW..CHIGH = 1400..1700 m/s (16 modes), M = 5, ranges 1, 3, 5 km
  window_m5 both: 7 modes in the window, the first 5 summed
pelagic reads the same files (pelagic.kraken.load). Its FIELD sums in single precision, so
the reference pressure is pelagic's own modes re-summed here in double precision over the
first M modes (FIELD's rule); the script also checks that pelagic's FIELD output agrees with
that re-sum (which shows FIELD sums the first M modes, by decreasing Re k).

--write-fixture writes host/tests/fixtures/kraken_window_reference.json, which
host/tests/forward.rs compares `vina forward --json` against (Re k within 1e-8, pressure
within 1e-3 of max|p| at every range). With --vina the same comparison runs here.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pelagic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "host", "tests", "fixtures")
CASES = [
    ("window", "gi_window_148Hz.env", "gi_3ranges.flp"),
    ("m5", "gi_lossy_148Hz.env", "gi_m5_3ranges.flp"),
    ("window_m5", "gi_window_148Hz.env", "gi_m5_3ranges.flp"),
]
K_TOL = 1e-8
P_TOL = 1e-3


def pelagic_case(env, flp):
    doc = pelagic.kraken.load(os.path.join(FIX, env), flp=os.path.join(FIX, flp),
                              solver="krakenc").to_dict()
    res = pelagic.kraken.Case.from_dict(doc).run()
    fr = res.frequencies[0]
    modes = fr.profiles[0].modes
    k = np.asarray(modes.wavenumbers)
    order = np.argsort(-k.real)
    assert (order == np.arange(len(k))).all(), "pelagic's modes are not ordered by decreasing Re k"
    depths = np.asarray(modes.depths_m)
    psi = np.asarray(modes.eigenfunctions)
    field = fr.field
    rec = np.asarray(field.depths_m, dtype=float)
    ranges = np.asarray(field.ranges_m, dtype=float)
    p32 = np.asarray(field.pressure)[0].astype(np.complex128)  # (receiver, range)
    m = min(int(doc["kraken"]["mode_limit"]), len(k))

    def at(z):
        i = int(np.argmin(np.abs(depths - z)))
        assert abs(depths[i] - z) < 1e-3
        return psi[i]

    s = at(float(doc["source"]["depth"][0]))[:m]
    phi = np.array([at(z)[:m] for z in rec])
    p64 = np.array([(1j * np.sqrt(2 * np.pi) * np.exp(1j * np.pi / 4)
                     * (phi * (s * np.exp(-1j * k[:m] * r) / np.sqrt(k[:m] * r))).sum(axis=1))
                    for r in ranges])  # (range, receiver)
    f32 = float(np.max(np.abs(p64 - p32.T)) / np.max(np.abs(p64)))
    assert f32 < 1e-3, f"pelagic FIELD vs its first {m} modes re-summed: {f32:.1e}"
    return {"k": [[z.real, z.imag] for z in k], "modes_summed": m, "range_m": ranges.tolist(),
            "receiver_depth_m": rec.tolist(),
            "pressure_by_range": [[[z.real, z.imag] for z in row] for row in p64],
            "field_f32_vs_resum": f32}


def compare(vina, env, flp, ref):
    out = subprocess.run([vina, "forward", os.path.join(FIX, env), "--flp", os.path.join(FIX, flp), "--json"],
                         capture_output=True, text=True, check=True)
    v = json.loads(out.stdout)
    k = np.array([complex(*z) for z in v["wavenumbers"][0]])
    kk = np.array([complex(*z) for z in ref["k"]])
    if len(k) != len(kk):
        return f"mode counts differ: vina {len(k)}, pelagic {len(kk)}"
    dk = float(np.max(np.abs(k.real - kk.real) / kk.real))
    p = np.array([[complex(*z) for z in row] for row in v["pressure_by_range"][0]])
    pp = np.array([[complex(*z) for z in row] for row in ref["pressure_by_range"]])
    dp = float(np.max(np.abs(p - pp)) / np.max(np.abs(pp)))
    ok = dk <= K_TOL and dp <= P_TOL and v["modes_summed"][0] == ref["modes_summed"]
    return (f"{'ok  ' if ok else 'MISS'} modes {len(k)} (summed vina {v['modes_summed'][0]}, pelagic "
            f"{ref['modes_summed']}), dRe k {dk:.1e}, dp {dp:.1e} over {len(pp)} ranges"), ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vina")
    ap.add_argument("--write-fixture", action="store_true")
    a = ap.parse_args()
    refs = {}
    failed = False
    for name, env, flp in CASES:
        ref = pelagic_case(env, flp)
        refs[name] = dict(ref, env=env, flp=flp)
        line = (f"{name:10s} pelagic KRAKENC: {len(ref['k'])} modes in the window, FIELD sums "
                f"{ref['modes_summed']}, f32 FIELD vs f64 re-sum {ref['field_f32_vs_resum']:.1e}")
        if a.vina:
            msg, ok = compare(a.vina, env, flp, ref)
            line += f"; vina: {msg}"
            failed |= not ok
        print(line)
    if a.write_fixture:
        with open(os.path.join(FIX, "kraken_window_reference.json"), "w") as fh:
            json.dump({"generator": f"bench/forward_window_crosscheck.py, pelagic {pelagic.__version__}",
                       "cases": refs}, fh, indent=1)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
