"""Writes the small recordings tests/suites/examples_seq.sh feeds
examples/timeseries.c, in the layout of scipy's misc/ecg.dat (a NumPy .npz
holding ecg.npy, uint16 ADC values; see examples/ecg.h).  Synthetic: a
72-beats-per-minute train of QRS-like spikes on a slow wander, with noise,
at 360 Hz.
  tests/examples/ecg_synth.dat   6000 samples, deflated (savez_compressed)
  tests/examples/ecg_stored.dat  6000 samples, stored (savez)
  tests/examples/ecg_float.dat   100 float64 samples: the reader's dtype check
Run from the repository root: /usr/bin/python3 tests/ref/gen_ecg_fixtures.py
"""
import os

import numpy as np

RATE = 360
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def synthetic(n, rng):
    t = np.arange(n) / RATE
    phase = (t * 1.2) % 1.0                                  # 72 beats per minute
    beat = 1.6 * np.exp(-((phase - 0.3) / 0.012) ** 2) + 0.25 * np.exp(-((phase - 0.6) / 0.05) ** 2)
    mv = beat + 0.2 * np.sin(2 * np.pi * 0.3 * t) + 0.02 * rng.standard_normal(n) - 0.2
    return np.round(mv * 200 + 1024).astype(np.uint16)      # scipy: mV = (adc - 1024) / 200


def main():
    rng = np.random.default_rng(7)
    os.makedirs(OUT, exist_ok=True)
    sig = synthetic(6000, rng)
    # file objects: given a name, NumPy would append ".npz"
    with open(os.path.join(OUT, "ecg_synth.dat"), "wb") as f:
        np.savez_compressed(f, ecg=sig)
    with open(os.path.join(OUT, "ecg_stored.dat"), "wb") as f:
        np.savez(f, ecg=sig)
    with open(os.path.join(OUT, "ecg_float.dat"), "wb") as f:
        np.savez_compressed(f, ecg=rng.standard_normal(100))
    for name in ("ecg_synth.dat", "ecg_stored.dat", "ecg_float.dat"):
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")


if __name__ == "__main__":
    main()
