#!/usr/bin/python3
"""PyTorch's side of test/pytorch.test.ts (Debian /usr/bin/python3 with python3-torch 1.13).

  pytorch_roundtrip.py train DIR    PyTorch's examples/vae model (fc1, fc21, fc22, fc3, fc4),
                                    seed 1, trained for a few Adam steps on DIR/x.f32 with the
                                    example's loss, saved as DIR/examples_vae.safetensors (its
                                    state_dict, as safetensors.torch.save_file writes it); then
                                    mu, logvar of DIR/x.f32 and decode(DIR/z.f32) to DIR/torch_*.f32
  pytorch_roundtrip.py export FILE DIR
                                    the wasm-vae model FILE loaded with scripts/wasm_vae_torch.py
                                    (the README's snippet); mu, logvar, decode(z) to DIR/torch_*.f32

Inputs and outputs are raw little-endian float32, row-major. The safetensors bytes are written by
hand (no python safetensors package here), as scripts/make_safetensors_fixture.py does: the same
layout as the reference writer (tensors ordered by name, header padded with spaces to 8 bytes).
"""
import json, os, struct, sys
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wasm_vae_torch import load_wasm_vae  # noqa: E402


class VAE(nn.Module):  # verbatim from pytorch/examples vae/main.py
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):  # verbatim from pytorch/examples vae/main.py
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def read_f32(path, cols):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(-1, cols)


def write_f32(path, t):
    flat = t.detach().contiguous().view(-1).tolist()
    with open(path, "wb") as f:
        f.write(struct.pack("<%df" % len(flat), *flat))


def save_safetensors(path, state_dict, metadata):
    header, data = {"__metadata__": metadata}, b""
    for name in sorted(state_dict):
        t = state_dict[name].detach().contiguous().to(torch.float32)
        flat = t.view(-1).tolist()
        blob = struct.pack("<%df" % len(flat), *flat)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def write_outputs(model, d, D, Z):
    """mu, logvar of DIR/x.f32 (rows of D) and decode(DIR/z.f32) (rows of Z), in eval mode."""
    model.eval()
    with torch.no_grad():
        mu, logvar = model.encode(read_f32(os.path.join(d, "x.f32"), D))
        write_f32(os.path.join(d, "torch_mu.f32"), mu)
        write_f32(os.path.join(d, "torch_logvar.f32"), logvar)
        write_f32(os.path.join(d, "torch_decoded.f32"), model.decode(read_f32(os.path.join(d, "z.f32"), Z)))


def train(d):
    torch.manual_seed(1)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = read_f32(os.path.join(d, "x.f32"), 784)
    model.train()
    for step in range(5):  # a few steps of the example's training loop, batch 64
        batch = x[(step * 64) % x.shape[0] :][:64]
        opt.zero_grad()
        recon, mu, logvar = model(batch)
        loss = loss_function(recon, batch, mu, logvar)
        loss.backward()
        opt.step()
    save_safetensors(os.path.join(d, "examples_vae.safetensors"), model.state_dict(), {"format": "pt"})
    write_outputs(model, d, 784, 20)
    print("trained 5 steps, last loss %.4f" % (loss.item() / 64))


def export(path, d):
    model = load_wasm_vae(path)
    write_outputs(model, d, model.cfg["inputDim"], model.cfg["latentDim"])
    print("loaded %s: %d parameters" % (os.path.basename(path), sum(p.numel() for p in model.parameters())))


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1] == "train":
        train(sys.argv[2])
    elif sys.argv[1] == "export":
        export(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: pytorch_roundtrip.py train DIR | export FILE DIR")
