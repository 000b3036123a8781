#!/usr/bin/python3
"""Peer benchmark: Keras-io's convolutional VAE (wasm-vae's PRESETS.kerasIoConv) trained with PyTorch.

    /usr/bin/python3 bench/pytorch_conv_step.py [--batches 32,128] [--threads 1,2] [--seconds 3]

Model (src/presets.ts kerasIoConv, PyTorch layouts): Conv2d(1,32,3,2,1)+ReLU, Conv2d(32,64,3,2,1)+ReLU,
Linear(3136,16)+ReLU, mu/logvar Linear(16,2); Linear(2,3136)+ReLU, reshape (64,7,7),
ConvTranspose2d(64,64,3,2,1,1)+ReLU, ConvTranspose2d(64,32,3,2,1,1)+ReLU, ConvTranspose2d(32,1,3,1,1)
-> logits. Loss: summed BCE-with-logits + KL; Adam lr 1e-3. One step = draw eps, forward, backward,
Adam, as wasm-vae's bench/conv.mjs times it. Figures: median and p10/p90 of per-step seconds over
samples after warm-up, as samples/s. stdout: one JSON object.
"""
import argparse, json, os, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.e0, self.e1, self.e2 = nn.Conv2d(1, 32, 3, 2, 1), nn.Conv2d(32, 64, 3, 2, 1), nn.Linear(3136, 16)
        self.mu, self.lv = nn.Linear(16, 2), nn.Linear(16, 2)
        self.d0 = nn.Linear(2, 3136)
        self.d2, self.d3 = nn.ConvTranspose2d(64, 64, 3, 2, 1, 1), nn.ConvTranspose2d(64, 32, 3, 2, 1, 1)
        self.out = nn.ConvTranspose2d(32, 1, 3, 1, 1)

    def loss(self, x):
        h = F.relu(self.e1(F.relu(self.e0(x))))
        h = F.relu(self.e2(h.flatten(1)))
        mu, lv = self.mu(h), self.lv(h)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        g = F.relu(self.d0(z)).view(-1, 64, 7, 7)
        logits = self.out(F.relu(self.d3(F.relu(self.d2(g)))))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        return rec - 0.5 * torch.sum(1 + lv - mu ** 2 - lv.exp())


def bench(batch, threads, seconds):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = ConvVAE()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = (torch.rand(batch, 1, 28, 28) < 0.2).float()

    def step():
        opt.zero_grad(set_to_none=True)
        l = m.loss(x)
        l.backward()
        opt.step()
        return float(l)

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    samples = []
    while time.perf_counter() - t0 < seconds or len(samples) < 5:
        s = time.perf_counter()
        step()
        samples.append(time.perf_counter() - s)
    rates = sorted(batch / s for s in samples)
    q = lambda p: rates[min(len(rates) - 1, int(p * (len(rates) - 1) + 0.5))]
    return dict(batch=batch, threads=threads, samplesPerSec=round(statistics.median(rates), 1),
                p10=round(q(0.1), 1), p90=round(q(0.9), 1), n=len(rates))


if __name__ == "__main__":  # bench/pytorch_keras_conv_mnist.py imports ConvVAE
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    res = [bench(b, t, args.seconds) for t in map(int, args.threads.split(",")) for b in map(int, args.batches.split(","))]
    print(json.dumps(dict(system="pytorch", torch=torch.__version__, mkldnn=torch.backends.mkldnn.is_available(),
                          results=res)))
