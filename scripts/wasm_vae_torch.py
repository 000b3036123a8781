# A wasm-vae model file (VAE.save / saveModel) as a PyTorch module. Standard library + torch only
# (no safetensors package needed). Usage: vae = load_wasm_vae("model.safetensors")
import json, struct
import torch
from torch import nn
import torch.nn.functional as F


def read_safetensors(path):
    """{name: float32 tensor}, metadata of a safetensors file (8-byte header length, JSON, data)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", (name, t["dtype"])  # a model file's parameters are all F32
        b, e = t["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32).reshape(t["shape"])
    return tensors, meta


class WasmVAE(nn.Module):
    """The same tensors under the same names: encoder.{i}, fc_mu, fc_logvar, decoder.{i}, fc_out
    (+ fc_out_logvar for likelihood 'gaussian-learned'), weights (out, in) as nn.Linear holds them."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg, D, Z = cfg, cfg["inputDim"], cfg["latentDim"]
        enc, dec = [D] + cfg["encoder"], [Z] + cfg["decoder"]
        self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(enc, enc[1:]))
        self.fc_mu, self.fc_logvar = nn.Linear(enc[-1], Z), nn.Linear(enc[-1], Z)
        self.decoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dec, dec[1:]))
        self.fc_out = nn.Linear(dec[-1], D)
        if cfg["likelihood"] == "gaussian-learned":
            self.fc_out_logvar = nn.Linear(dec[-1], D)

    def act(self, h):
        a, alpha = self.cfg["activation"], self.cfg["activationAlpha"]
        if a == "leaky_relu": return F.leaky_relu(h, alpha)
        if a == "elu": return F.elu(h, alpha)
        return {"identity": lambda t: t, "relu": F.relu, "tanh": torch.tanh,
                "sigmoid": torch.sigmoid, "softplus": F.softplus}[a](h)

    def encode(self, x):  # -> mu, logvar: q(z|x) = N(mu, exp(logvar))
        for layer in self.encoder: x = self.act(layer(x))
        return self.fc_mu(x), self.fc_logvar(x)

    def decode(self, z):  # Bernoulli probabilities, or Gaussian means
        for layer in self.decoder: z = self.act(layer(z))
        out = self.fc_out(z)
        return torch.sigmoid(out) if self.cfg["likelihood"] == "bernoulli" else out


def load_wasm_vae(path):
    tensors, meta = read_safetensors(path)
    assert meta.get("format") == "wasm-vae", "not a wasm-vae model file"
    vae = WasmVAE(json.loads(meta["config"]))
    vae.load_state_dict(tensors)  # strict: every name and shape must match
    return vae
