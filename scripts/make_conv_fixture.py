#!/usr/bin/env python3
"""Writes test/fixtures/conv.json: PyTorch's numbers for convolutions and small convolutional VAEs.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make_conv_fixture.py
Everything is computed in float64 so the fixture is an accurate reference for the fp32 kernels.
 - kernels: F.conv2d and F.conv_transpose2d on seeded inputs: the output and, for the loss
   sum(out * dout) with a seeded dout, the gradients of the input, the weight and the bias.
 - vaes: conv VAEs in wasm-vae's config format (inputShape, layer lists mixing dense / conv /
   deconv / reshape entries), built the way src/config.ts documents it: every layer but reshape
   is followed by the activation, conv entries flatten (torch.flatten(x, 1)) before a dense one,
   fc_mu / fc_logvar are dense heads, and the output head is ConvTranspose2d(C', C, 3, 1, 1) when
   the decoder ends on an image (of the input's height and width), else a dense fc_out. For each:
   the initial parameters (PyTorch's default init, seeded), x, eps, loss parts, every gradient,
   and 10 Adam steps (lr 1e-2, fresh eps each step, supplied) with the loss before each step.
The loss is the summed minibatch objective  sum_b [ -(1/L) sum_l log p(x_b|z_bl) + beta * KL_b ].
"""
import math, os, sys
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_parity_fixture import loss_and_steps, write_fixture  # noqa: E402

MAGIC, VERSION = "wasm-vae-conv", 1
torch.set_default_dtype(torch.float64)

ACT = {
    "relu": lambda t, a: F.relu(t),
    "leaky_relu": lambda t, a: F.leaky_relu(t, a),
    "elu": lambda t, a: F.elu(t, a),
    "tanh": lambda t, a: torch.tanh(t),
}

def flat(t):
    """Float64 values to 10 significant digits: far past fp32's, and a small file."""
    return [float(f"{v:.10g}") for v in t.detach().reshape(-1).tolist()]

# ---- kernels ----
KERNELS = [
    dict(name="conv_k3_s1_p1", transposed=False, B=2, C=3, H=5, W=6, OC=4, K=3, stride=1, pad=1),
    dict(name="conv_k3_s2_p1", transposed=False, B=2, C=2, H=7, W=7, OC=3, K=3, stride=2, pad=1),
    dict(name="conv_k5_s2_p2", transposed=False, B=1, C=1, H=9, W=8, OC=2, K=5, stride=2, pad=2),
    dict(name="conv_k1_s1_p0", transposed=False, B=3, C=4, H=3, W=3, OC=5, K=1, stride=1, pad=0),
    dict(name="deconv_k3_s2_p1_op1", transposed=True, B=2, C=3, H=4, W=4, OC=2, K=3, stride=2, pad=1, outPad=1),
    dict(name="deconv_k3_s1_p1", transposed=True, B=2, C=2, H=5, W=6, OC=3, K=3, stride=1, pad=1),
    dict(name="deconv_k4_s2_p1", transposed=True, B=1, C=2, H=3, W=5, OC=2, K=4, stride=2, pad=1),
    dict(name="deconv_k3_s2_p0", transposed=True, B=2, C=1, H=3, W=3, OC=3, K=3, stride=2, pad=0),
]

def run_kernel(c, seed):
    torch.manual_seed(seed)
    x = torch.randn(c["B"], c["C"], c["H"], c["W"], requires_grad=True)
    wshape = (c["C"], c["OC"], c["K"], c["K"]) if c["transposed"] else (c["OC"], c["C"], c["K"], c["K"])
    w = torch.randn(*wshape, requires_grad=True)
    b = torch.randn(c["OC"], requires_grad=True)
    if c["transposed"]:
        out = F.conv_transpose2d(x, w, b, stride=c["stride"], padding=c["pad"], output_padding=c.get("outPad", 0))
    else:
        out = F.conv2d(x, w, b, stride=c["stride"], padding=c["pad"])
    dout = torch.randn_like(out)
    (out * dout).sum().backward()
    return dict(c, outShape=list(out.shape), x=flat(x), weight=flat(w), bias=flat(b), dout=flat(dout),
                out=flat(out), dx=flat(x.grad), dweight=flat(w.grad), dbias=flat(b.grad))

# ---- VAEs ----
def side(entries, shape, prefix):
    """Modules (by list index, as wasm-vae names them) and the shape after each entry."""
    mods = {}
    for i, e in enumerate(entries):
        if isinstance(e, int):
            e = {"dense": e}
        if "dense" in e:
            mods[str(i)] = torch.nn.Linear(math.prod(shape), e["dense"]); shape = [e["dense"]]
        elif "conv" in e:
            k, s, p = e["kernel"], e.get("stride", 1), e.get("padding", 0)
            mods[str(i)] = torch.nn.Conv2d(shape[0], e["conv"], k, s, p)
            shape = [e["conv"], (shape[1] + 2 * p - k) // s + 1, (shape[2] + 2 * p - k) // s + 1]
        elif "deconv" in e:
            k, s, p, op = e["kernel"], e.get("stride", 1), e.get("padding", 0), e.get("outputPadding", 0)
            mods[str(i)] = torch.nn.ConvTranspose2d(shape[0], e["deconv"], k, s, p, op)
            shape = [e["deconv"], (shape[1] - 1) * s - 2 * p + k + op, (shape[2] - 1) * s - 2 * p + k + op]
        else:
            shape = list(e["reshape"])
    return torch.nn.ModuleDict(mods), shape

def head(shape, cfg):
    C, H, W = cfg["inputShape"]
    if len(shape) == 3:
        assert shape[1:] == [H, W], "wasm-vae refuses a decoder that ends on an image of another size"
        return torch.nn.ConvTranspose2d(shape[0], C, 3, 1, 1)
    return torch.nn.Linear(math.prod(shape), C * H * W)

class ConvVAE(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.encoder, shape = side(cfg["encoder"], list(cfg["inputShape"]), "encoder")
        n = math.prod(shape)
        self.fc_mu = torch.nn.Linear(n, cfg["latentDim"])
        self.fc_logvar = torch.nn.Linear(n, cfg["latentDim"])
        self.decoder, shape = side(cfg["decoder"], [cfg["latentDim"]], "decoder")
        self.fc_out = head(shape, cfg)
        if cfg["likelihood"] == "gaussian-learned":
            self.fc_out_logvar = head(shape, cfg)

def walk(mods, entries, h, act):
    for i, e in enumerate(entries):
        if isinstance(e, int):
            e = {"dense": e}
        if "reshape" in e:
            h = h.reshape(h.shape[0], *e["reshape"]); continue
        if "dense" in e:
            h = h.flatten(1)
        h = act(mods[str(i)](h))
    return h

def apply_head(m, g):
    return m(g).flatten(1) if isinstance(m, torch.nn.ConvTranspose2d) else m(g.flatten(1))

def loss_fn(m, cfg, x, eps, L, beta):
    act = lambda t: ACT[cfg["activation"]](t, 1.0 if cfg["activation"] == "elu" else 0.01)
    B = x.shape[0]
    h = walk(m.encoder, cfg["encoder"], x.reshape(B, *cfg["inputShape"]), act).flatten(1)
    mu, logvar = m.fc_mu(h), m.fc_logvar(h)
    z = mu.repeat_interleave(L, 0) + torch.exp(0.5 * logvar).repeat_interleave(L, 0) * eps
    g = walk(m.decoder, cfg["decoder"], z, act)
    out = apply_head(m.fc_out, g)
    xr = x.repeat_interleave(L, 0)
    if cfg["likelihood"] == "bernoulli":
        nll = F.binary_cross_entropy_with_logits(out, xr, reduction="none").sum(-1)
    else:
        lv = apply_head(m.fc_out_logvar, g)
        nll = (0.5 * (xr - out) ** 2 * torch.exp(-lv) + 0.5 * lv + 0.5 * math.log(2 * math.pi)).sum(-1)
    rec = nll.view(B, L).mean(1)
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)
    return (rec + beta * kl).sum(), rec, kl

VAES = [
    dict(name="bernoulli-relu-8x8", B=3, L=1, beta=1.0,
         cfg=dict(inputShape=[1, 8, 8], latentDim=2, activation="relu", likelihood="bernoulli",
                  encoder=[{"conv": 4, "kernel": 3, "stride": 2, "padding": 1},
                           {"conv": 6, "kernel": 3, "stride": 2, "padding": 1}, {"dense": 10}],
                  decoder=[{"dense": 24}, {"reshape": [6, 2, 2]},
                           {"deconv": 4, "kernel": 3, "stride": 2, "padding": 1, "outputPadding": 1},
                           {"deconv": 3, "kernel": 3, "stride": 2, "padding": 1, "outputPadding": 1}])),
    dict(name="learned-tanh-2x7x7-L2", B=2, L=2, beta=0.5,
         cfg=dict(inputShape=[2, 7, 7], latentDim=3, activation="tanh", likelihood="gaussian-learned",
                  encoder=[{"conv": 3, "kernel": 3, "stride": 2, "padding": 1}, 8],
                  decoder=[{"dense": 3 * 4 * 4}, {"reshape": [3, 4, 4]},
                           {"deconv": 4, "kernel": 3, "stride": 2, "padding": 1},
                           {"conv": 3, "kernel": 3, "stride": 1, "padding": 1}])),
    dict(name="bernoulli-elu-dense-head", B=2, L=1, beta=1.0,
         cfg=dict(inputShape=[1, 6, 6], latentDim=2, activation="elu", likelihood="bernoulli",
                  encoder=[{"conv": 2, "kernel": 3, "stride": 1, "padding": 0}],
                  decoder=[{"dense": 18}, {"reshape": [2, 3, 3]}, {"conv": 2, "kernel": 1}, {"dense": 10}])),
]

def run_vae(c, seed):
    torch.manual_seed(seed)
    cfg, B, L, beta = c["cfg"], c["B"], c["L"], c["beta"]
    m = ConvVAE(cfg)
    params0 = {k: flat(v) for k, v in m.state_dict().items()}
    shapes = {k: list(v.shape) for k, v in m.state_dict().items()}
    D = math.prod(cfg["inputShape"])
    x = torch.rand(B, D)
    if cfg["likelihood"] != "bernoulli":
        x = x * 2 - 0.5
    eps = torch.randn(B * L, cfg["latentDim"])
    return dict(name=c["name"], config=cfg, B=B, L=L, beta=beta, shapes=shapes, params=params0, x=flat(x),
                **loss_and_steps(m, lambda e: loss_fn(m, cfg, x, e, L, beta), eps, flat=flat))

def main():
    write_fixture(MAGIC, VERSION, "make_conv_fixture.py", "test/fixtures/conv.json",
                  kernels=[run_kernel(c, 99 + i) for i, c in enumerate(KERNELS)],
                  vaes=[run_vae(c, 4321 + i) for i, c in enumerate(VAES)])

if __name__ == "__main__":
    main()
