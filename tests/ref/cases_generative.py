"""Forward cases of the generative models' ops (loaded by gen_ops.py):
sample_normal in eval mode is its mean.  Its training-mode sample and the
VAE's kl_normal loss are checked by tests/ref/gen_grads.py (the eps the
generated code draws) and tests/ref/gen_train.py (case vae)."""


def register(case, F):
    del F

    @case("sample_normal", n=2, doc="sample_normal(mu, logvar) in eval mode: mu")
    def _(c):
        mu = c.input("mu", [3, 5])
        c.input("logvar", [3, 5], lo=-2.0, hi=1.0)
        c.line("z = sample_normal(mu, logvar)")
        c.output("z", mu)
