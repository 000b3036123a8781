#!/usr/bin/env python3
"""Writes test/fixtures/parity.json: PyTorch's numbers for small VAE configurations.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make_parity_fixture.py
For each case: the initial parameters (torch.nn.Linear default init, seeded), inputs x, noise eps,
the per-datapoint loss parts, the total loss, every parameter gradient, and 10 Adam steps (fresh
eps each step, supplied) with the loss before each step and the parameters after the last.
Everything is computed in float64 so the fixture is an accurate reference for the fp32 kernels.
The loss is the summed minibatch objective  sum_b [ -(1/L) sum_l log p(x_b|z_bl) + beta * KL_b ].
"""
import json, math, sys
import torch
import torch.nn.functional as F

MAGIC, VERSION = "wasm-vae-parity", 1
torch.set_default_dtype(torch.float64)

ACT = {
    "identity": lambda t, a: t,
    "relu": lambda t, a: F.relu(t),
    "leaky_relu": lambda t, a: F.leaky_relu(t, a),
    "elu": lambda t, a: F.elu(t, a),
    "tanh": lambda t, a: torch.tanh(t),
    "sigmoid": lambda t, a: torch.sigmoid(t),
    "softplus": lambda t, a: F.softplus(t),
}

class VAE(torch.nn.Module):
    """Parameter names match wasm-vae's: encoder.{i}, fc_mu, fc_logvar, decoder.{i}, fc_out, fc_out_logvar."""
    def __init__(self, cfg):
        super().__init__()
        w, enc = cfg["inputDim"], []
        for h in cfg["encoder"]:
            enc.append(torch.nn.Linear(w, h)); w = h
        self.encoder = torch.nn.ModuleList(enc)
        self.fc_mu = torch.nn.Linear(w, cfg["latentDim"])
        self.fc_logvar = torch.nn.Linear(w, cfg["latentDim"])
        w, dec = cfg["latentDim"], []
        for h in cfg["decoder"]:
            dec.append(torch.nn.Linear(w, h)); w = h
        self.decoder = torch.nn.ModuleList(dec)
        self.fc_out = torch.nn.Linear(w, cfg["inputDim"])
        if cfg["likelihood"] == "gaussian-learned":
            self.fc_out_logvar = torch.nn.Linear(w, cfg["inputDim"])

def build(cfg):
    return VAE(cfg)

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
    lik = cfg["likelihood"]
    if lik == "bernoulli":
        nll = F.binary_cross_entropy_with_logits(out, xr, reduction="none").sum(-1)
    elif lik == "gaussian":
        s = cfg.get("sigma", 1.0)
        nll = (0.5 * ((xr - out) / s) ** 2 + math.log(s) + 0.5 * math.log(2 * math.pi)).sum(-1)
    else:
        lv = m.fc_out_logvar(g)
        nll = (0.5 * (xr - out) ** 2 * torch.exp(-lv) + 0.5 * lv + 0.5 * math.log(2 * math.pi)).sum(-1)
    rec = nll.view(B, L).mean(1)
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)
    return (rec + beta * kl).sum(), rec, kl

def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]

CASES = [
    dict(name="bernoulli-relu", B=4, L=1, beta=1.0,
         cfg=dict(inputDim=7, encoder=[6], latentDim=3, decoder=[5], activation="relu", likelihood="bernoulli")),
    dict(name="gaussian-tanh-L2", B=3, L=2, beta=0.5,
         cfg=dict(inputDim=6, encoder=[5, 4], latentDim=2, decoder=[4], activation="tanh", likelihood="gaussian", sigma=0.5)),
    dict(name="learned-elu-L3", B=3, L=3, beta=1.0,
         cfg=dict(inputDim=5, encoder=[6], latentDim=2, decoder=[6], activation="elu", likelihood="gaussian-learned")),
    dict(name="bernoulli-leaky-deep", B=5, L=1, beta=2.0,
         cfg=dict(inputDim=9, encoder=[8, 6], latentDim=3, decoder=[4, 7], activation="leaky_relu", likelihood="bernoulli")),
    dict(name="bernoulli-softplus-linear", B=2, L=2, beta=1.0,
         cfg=dict(inputDim=5, encoder=[], latentDim=2, decoder=[], activation="softplus", likelihood="bernoulli")),
    dict(name="gaussian-sigmoid", B=3, L=1, beta=1.0,
         cfg=dict(inputDim=6, encoder=[5], latentDim=2, decoder=[5], activation="sigmoid", likelihood="gaussian", sigma=1.0)),
]

def run_case(c, seed):
    torch.manual_seed(seed)
    cfg, B, L, beta = c["cfg"], c["B"], c["L"], c["beta"]
    m = build(cfg)
    params0 = {k: flat(v) for k, v in m.state_dict().items()}
    x = torch.rand(B, cfg["inputDim"])
    if cfg["likelihood"] != "bernoulli":
        x = x * 2 - 0.5
    eps = torch.randn(B * L, cfg["latentDim"])
    return dict(name=c["name"], config=cfg, B=B, L=L, beta=beta, params=params0, x=flat(x),
                **loss_and_steps(m, lambda e: loss_fn(m, cfg, x, e, L, beta), eps))

def loss_and_steps(m, loss_of, eps, flat=flat, adam=True):
    """The fields every whole-model case shares: ε, the loss parts and every gradient at ε
    (loss_of(ε) -> (loss, rec, kl)), then, with `adam`, 10 Adam steps (lr 1e-2), each on a fresh
    ε of eps's shape drawn here, and the parameters after them."""
    loss, rec, kl = loss_of(eps)
    m.zero_grad(); loss.backward()
    out = dict(eps=flat(eps), loss=float(loss), rec=flat(rec), kl=flat(kl),
               grads={k: flat(p.grad) for k, p in m.named_parameters()})
    if adam:
        opt = torch.optim.Adam(m.parameters(), lr=1e-2)
        steps_eps, losses = [], []
        for _ in range(10):
            e = torch.randn(*eps.shape)
            steps_eps.append(flat(e))
            opt.zero_grad()
            l, _, _ = loss_of(e)
            l.backward(); opt.step()
            losses.append(float(l))
        out["adam"] = dict(lr=1e-2, eps=steps_eps, losses=losses,
                           params={k: flat(v) for k, v in m.state_dict().items()})
    return out

def write_fixture(magic, version, script, default_path, **fields):
    """Writes {magic, version, torch, note, **fields} as compact JSON to argv[1] or default_path."""
    out = dict(magic=magic, version=version, torch=torch.__version__,
               note=f"generated by scripts/{script}; do not edit", **fields)
    path = sys.argv[1] if len(sys.argv) > 1 else default_path
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {path}")

def main():
    write_fixture(MAGIC, VERSION, "make_parity_fixture.py", "test/fixtures/parity.json",
                  cases=[run_case(c, 1234 + i) for i, c in enumerate(CASES)])

if __name__ == "__main__":
    main()
