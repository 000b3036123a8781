#!/usr/bin/env python3
"""Writes test/fixtures/cvae.json: PyTorch's numbers for conditional VAEs (conditionDim C).

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make_cvae_fixture.py
The condition y (B, C) is joined as torch.cat([x, y], 1) before the encoder's first layer and
torch.cat([z, y.repeat_interleave(L, 0)], 1) before the decoder's first layer, so those layers are
nn.Linear(D + C, H) and nn.Linear(Z + C, H'). Per case: initial parameters, x, y, eps, loss parts
and every gradient, in float64, in the format of test/fixtures/parity.json plus `cond`.
"""
import os, sys
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_parity_fixture import flat, loss_and_steps, write_fixture  # noqa: E402

MAGIC, VERSION = "wasm-vae-cvae", 1
torch.set_default_dtype(torch.float64)


class CVAE(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg["conditionDim"]
        w, enc = cfg["inputDim"] + C, []
        for h in cfg["encoder"]:
            enc.append(torch.nn.Linear(w, h)); w = h
        self.encoder = torch.nn.ModuleList(enc)
        self.fc_mu = torch.nn.Linear(w, cfg["latentDim"])
        self.fc_logvar = torch.nn.Linear(w, cfg["latentDim"])
        w, dec = cfg["latentDim"] + C, []
        for h in cfg["decoder"]:
            dec.append(torch.nn.Linear(w, h)); w = h
        self.decoder = torch.nn.ModuleList(dec)
        self.fc_out = torch.nn.Linear(w, cfg["inputDim"])


def loss_fn(m, cfg, x, y, eps, L, beta):
    h = torch.cat([x, y], 1)
    for layer in m.encoder:
        h = F.relu(layer(h))
    mu, logvar = m.fc_mu(h), m.fc_logvar(h)
    B = mu.shape[0]
    z = mu.repeat_interleave(L, 0) + torch.exp(0.5 * logvar).repeat_interleave(L, 0) * eps
    g = torch.cat([z, y.repeat_interleave(L, 0)], 1)
    for layer in m.decoder:
        g = F.relu(layer(g))
    out = m.fc_out(g)
    nll = F.binary_cross_entropy_with_logits(out, x.repeat_interleave(L, 0), reduction="none").sum(-1)
    rec = nll.view(B, L).mean(1)
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)
    return (rec + beta * kl).sum(), rec, kl


CASES = [
    dict(name="cvae-relu", B=5, L=1, beta=1.0,
         cfg=dict(inputDim=7, encoder=[6], latentDim=2, decoder=[5], activation="relu",
                  likelihood="bernoulli", conditionDim=3)),
    dict(name="cvae-relu-L2-deep", B=4, L=2, beta=0.5,
         cfg=dict(inputDim=6, encoder=[5, 4], latentDim=3, decoder=[4], activation="relu",
                  likelihood="bernoulli", conditionDim=4)),
]


def run_case(c, seed):
    torch.manual_seed(seed)
    cfg, B, L, beta = c["cfg"], c["B"], c["L"], c["beta"]
    m = CVAE(cfg)
    params0 = {k: flat(v) for k, v in m.state_dict().items()}
    x = torch.rand(B, cfg["inputDim"])
    y = F.one_hot(torch.randint(0, cfg["conditionDim"], (B,)), cfg["conditionDim"]).to(torch.float64)
    eps = torch.randn(B * L, cfg["latentDim"])
    return dict(name=c["name"], config=cfg, B=B, L=L, beta=beta, params=params0, x=flat(x), cond=flat(y),
                **loss_and_steps(m, lambda e: loss_fn(m, cfg, x, y, e, L, beta), eps, adam=False))


def main():
    write_fixture(MAGIC, VERSION, "make_cvae_fixture.py", "test/fixtures/cvae.json",
                  cases=[run_case(c, 777 + i) for i, c in enumerate(CASES)])


if __name__ == "__main__":
    main()
