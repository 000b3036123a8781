#!/usr/bin/env python3
"""Writes test/fixtures/continuous-bernoulli.json: PyTorch's numbers for the continuous Bernoulli.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make_cb_fixture.py
- `elements`: torch.distributions.ContinuousBernoulli(logits=l).log_prob(x) and its gradient with
  respect to l over a grid of logits (near l = 0, i.e. λ = ½, where PyTorch switches to its Taylor
  expansion, through |l| = 30) and targets in [0, 1], and the distribution's mean.
- `cases`: whole-model VAE cases in the format of test/fixtures/parity.json (make_parity_fixture.py):
  initial parameters, x, eps, loss parts, every gradient, 10 Adam steps.
Everything in float64.
"""
import os, sys
import torch
from torch.distributions import ContinuousBernoulli

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_parity_fixture import ACT, build, flat, loss_and_steps, write_fixture  # noqa: E402

MAGIC, VERSION = "wasm-vae-continuous-bernoulli", 1
torch.set_default_dtype(torch.float64)


def loss_fn(m, cfg, x, eps, L, beta):
    act = lambda t: ACT[cfg["activation"]](t, cfg.get("activationAlpha", 1.0 if cfg["activation"] == "elu" else 0.01))
    h = x
    for i in range(len(cfg["encoder"])):
        h = act(m.encoder[i](h))
    mu, logvar = m.fc_mu(h), m.fc_logvar(h)
    B, Z = mu.shape
    z = mu.repeat_interleave(L, 0) + torch.exp(0.5 * logvar).repeat_interleave(L, 0) * eps
    g = z
    for i in range(len(cfg["decoder"])):
        g = act(m.decoder[i](g))
    out = m.fc_out(g)
    xr = x.repeat_interleave(L, 0)
    nll = -ContinuousBernoulli(logits=out).log_prob(xr).sum(-1)
    rec = nll.view(B, L).mean(1)
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)
    return (rec + beta * kl).sum(), rec, kl


CASES = [
    dict(name="continuous-bernoulli-relu", B=4, L=1, beta=1.0,
         cfg=dict(inputDim=7, encoder=[6], latentDim=3, decoder=[5], activation="relu",
                  likelihood="continuous-bernoulli")),
    dict(name="continuous-bernoulli-tanh-L2", B=3, L=2, beta=0.5,
         cfg=dict(inputDim=6, encoder=[5], latentDim=2, decoder=[4, 5], activation="tanh",
                  likelihood="continuous-bernoulli")),
]


def run_case(c, seed):
    torch.manual_seed(seed)
    cfg, B, L, beta = c["cfg"], c["B"], c["L"], c["beta"]
    m = build(cfg)
    params0 = {k: flat(v) for k, v in m.state_dict().items()}
    x = torch.rand(B, cfg["inputDim"])
    eps = torch.randn(B * L, cfg["latentDim"])
    return dict(name=c["name"], config=cfg, B=B, L=L, beta=beta, params=params0, x=flat(x),
                **loss_and_steps(m, lambda e: loss_fn(m, cfg, x, e, L, beta), eps))


def elements():
    ls = [0.0, 1e-6, -1e-6, 1e-3, -3e-3, 0.004, 0.01, -0.05, 0.2, -0.4, 0.49, 0.5, -0.51, 0.75, -1.0,
          1.5, -2.5, 4.0, -7.0, 12.0, -20.0, 30.0]
    xs = [0.0, 0.1, 0.25, 0.5, 0.8, 1.0]
    pairs = [(l, x) for l in ls for x in xs]
    l = torch.tensor([p[0] for p in pairs], requires_grad=True)
    x = torch.tensor([p[1] for p in pairs])
    d = ContinuousBernoulli(logits=l)
    lp = d.log_prob(x)
    lp.sum().backward()
    mean = ContinuousBernoulli(logits=torch.tensor(ls)).mean
    return dict(logits=flat(l), x=flat(x), log_prob=flat(lp), dlog_prob=flat(l.grad),
                mean_logits=ls, mean=flat(mean))


def main():
    write_fixture(MAGIC, VERSION, "make_cb_fixture.py", "test/fixtures/continuous-bernoulli.json",
                  elements=elements(), cases=[run_case(c, 4321 + i) for i, c in enumerate(CASES)])


if __name__ == "__main__":
    main()
