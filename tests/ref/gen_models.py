"""Writes tests/models/<model>.safetensors: the end-to-end reference data for
every network in models/ (tests/suites/models.sh checks dlc against it).

For each model:
  1. tests/build_model.sh builds dlc's harness (--batch 2);
  2. `harness --seed 1 --save-params W` saves dlc's initial weights, and
     torch_models.MODELS[model] loads that file with
     load_state_dict(strict=True): the interop check, the same safetensors
     file on both sides (num_batches_tracked, which dlc does not keep, is
     filled in by PyTorch as it is for any state_dict without metadata);
  3. every BatchNorm gets random statistics and affine parameters that are
     consistent with the data (so BN is really exercised and activations stay
     well scaled): running_mean = batch mean + 0.2*std*z, running_var =
     batch variance (floored at 1% of the
     layer's mean variance) * exp(0.5*z), weight = U(0.5, 1.5), bias = 0.1*z, rounded
     to float32; they are stored in the reference file (small) and override
     the harness's --seed 1 weights;
  4. the module runs in float64 (eval mode) on random float32 inputs;
  5. the reverse check: PyTorch's state_dict saved as safetensors loads in
     the harness (no --seed) and gives the same outputs.
The file holds in.<input> (F32), out.<output> (F64) and the BN tensors
(F32), never the full weights: the harness re-creates them with --seed 1.

Run from the repository root after `make all`:
  /usr/bin/python3 tests/ref/gen_models.py [model ...]
"""
import os
import re
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
import torch_models  # noqa: E402

SEED = 20240601          # inputs and BN statistics
DLC_SEED = 1             # dlc's init seed, as the suite passes --seed 1
BATCH = 2                # compiled batch; the 224x224 models run one sample
INPUTS = {               # per-sample input shapes
    "mlp": [1, 28, 28],
    "lenet5": [1, 28, 28],
    "cnn_bn": [1, 28, 28],
    "vgg": [3, 32, 32],
    "resnet18": [3, 224, 224],
    "resnet_cifar": [3, 32, 32],
    "mobilenet_v2": [3, 224, 224],
    "inception": [3, 32, 32],
    "se_net": [3, 32, 32],
    "unet": [1, 64, 64],
    "autoencoder": [1, 28, 28],
}
SAMPLES = {"resnet18": 1, "mobilenet_v2": 1}

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def output_names(net):
    """The names on the `output` line(s) of the file's first model (the one
    tests/build_model.sh builds), in order."""
    names = []
    models = 0
    with open(net) as f:
        for line in f:
            models += bool(re.match(r"\s*model\s", line))
            if models > 1:
                break
            m = re.match(r"\s*output\s+([^#]*)", line)
            if m:
                names += [n.strip() for n in m.group(1).split(",") if n.strip()]
    return names


def dlc_weights(name, build):
    net = os.path.join(ROOT, "models", name + ".net")
    subprocess.run([os.path.join(ROOT, "tests", "build_model.sh"), net, build, "--batch", str(BATCH)],
                   check=True)
    path = os.path.join(build, "init.safetensors")
    subprocess.run([os.path.join(build, "harness"), "--seed", str(DLC_SEED), "--save-params", path],
                   check=True)
    return st.load(path)


def randomize_batchnorm(module, x, rng):
    """Runs x once, giving each BatchNorm2d statistics drawn around those of
    the input it actually sees; returns {name: float32 array} of what was set."""
    chosen = {}
    hooks = []

    def hook(bn, args, prefix):
        a = args[0]
        mean = a.mean((0, 2, 3))
        var = a.var((0, 2, 3), unbiased=False)
        var = torch.clamp(var, min=1e-2 * float(var.mean()) + 1e-12)
        c = mean.shape[0]
        z = torch.from_numpy(rng.standard_normal((4, c)))
        values = {
            "running_mean": mean + 0.2 * var.sqrt() * z[0],
            "running_var": var * torch.exp(0.5 * z[1]),
            "weight": torch.from_numpy(rng.uniform(0.5, 1.5, c)),
            "bias": 0.1 * z[3],
        }
        for role, v in values.items():
            v32 = v.detach().numpy().astype(np.float32)
            chosen[prefix + role] = v32
            getattr(bn, role).data.copy_(torch.from_numpy(v32.astype(np.float64)))

    for prefix, mod in module.named_modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            hooks.append(mod.register_forward_pre_hook(
                lambda m, args, p=prefix + ".": hook(m, args, p)))
    with torch.no_grad():
        module(x)
    for h in hooks:
        h.remove()
    return chosen


def check_torch_weights(module, build, data):
    """The other direction: PyTorch's own state_dict (float32, the BN values
    included, num_batches_tracked left out) saved to safetensors must load in
    dlc's harness without --seed and give the same outputs."""
    full = {k: v.detach().numpy().astype(np.float32) for k, v in module.state_dict().items()
            if not k.endswith("num_batches_tracked")}
    full.update({k: v for k, v in data.items() if k.startswith(("in.", "out."))})
    path = os.path.join(build, "torch_weights.safetensors")
    st.save(path, full)
    r = subprocess.run([os.path.join(build, "harness"), path, "--label", "torch-weights"],
                       stdout=subprocess.PIPE, universal_newlines=True)
    if r.returncode != 0:
        sys.exit("gen_models: dlc does not reproduce PyTorch on PyTorch's own weights: " + r.stdout.strip())


# ---- model families in their own files ----------------------------------
# tests/ref/models_<family>.py defines MODELS = {name: (constructor, inputs)}
# where inputs lists the model's inputs in order, each (name, "float", shape)
# or (name, "int", shape, high) for ids in [0, high); the module's forward
# takes them in that order.

def _load_families():
    import glob
    import importlib.util
    family = {}
    for path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "models_*.py"))):
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        family.update(module.MODELS)
    return family


FAMILY = _load_families()


def family_inputs(name, rng, n):
    """The inputs of a family model: {name: float32 or int32 array}."""
    xs = {}
    for spec in FAMILY[name][1]:
        if spec[1] == "int":
            xs[spec[0]] = rng.integers(0, spec[3], [n] + list(spec[2])).astype(np.int32)
        else:
            xs[spec[0]] = rng.standard_normal([n] + list(spec[2])).astype(np.float32)
    return xs


def generate(name):
    build = os.path.join(ROOT, "build", "ref", "models", name)
    weights = dlc_weights(name, build)
    module = FAMILY[name][0]() if name in FAMILY else torch_models.MODELS[name]()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    module = module.double().eval()

    rng = np.random.default_rng(SEED)
    n = SAMPLES.get(name, BATCH)
    if name in FAMILY:
        xs = family_inputs(name, rng, n)
        data = {}
        args = [torch.from_numpy(v.astype(np.int64 if v.dtype == np.int32 else np.float64)) for v in xs.values()]
    else:
        x32 = rng.standard_normal([n] + INPUTS[name]).astype(np.float32)
        xs = {"x": x32}
        x = torch.from_numpy(x32.astype(np.float64))
        data = randomize_batchnorm(module, x, rng)
        args = [x]
    with torch.no_grad():
        out = module(*args)
    outs = out if isinstance(out, tuple) else (out,)
    names = output_names(os.path.join(ROOT, "models", name + ".net"))
    assert len(names) == len(outs), (name, names)
    for k, v in xs.items():
        data["in." + k] = v
    for o, t in zip(names, outs):
        data["out." + o] = t.numpy().astype(np.float64)
    check_torch_weights(module, build, data)
    path = os.path.join(ROOT, "tests", "models", name + ".safetensors")
    st.save(path, data, metadata={
        "generator": "tests/ref/gen_models.py", "seed": SEED, "dlc_seed": DLC_SEED,
        "torch": torch.__version__,
        "note": "parameters: harness --seed %d, overridden by the BatchNorm tensors here" % DLC_SEED})
    size = os.path.getsize(path)
    print("%-14s %2d BN tensors, outputs %s, %d bytes" %
          (name, sum(1 for k in data if not k.startswith(("in.", "out."))),
           ", ".join("%s%s" % (o, list(t.shape)) for o, t in zip(names, outs)), size))


def main():
    torch.set_grad_enabled(False)
    known = list(torch_models.MODELS) + list(FAMILY)
    names = sys.argv[1:] or known
    os.makedirs(os.path.join(ROOT, "tests", "models"), exist_ok=True)
    for name in names:
        if name not in known:
            sys.exit("gen_models: unknown model '%s' (known: %s)" % (name, ", ".join(known)))
        generate(name)


if __name__ == "__main__":
    main()
