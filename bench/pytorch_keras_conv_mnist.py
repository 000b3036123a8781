#!/usr/bin/python3
"""Keras-io's convolutional VAE on MNIST in PyTorch, as scripts/reproduce-keras-conv.mjs trains it in wasm-vae.

    /usr/bin/python3 bench/pytorch_keras_conv_mnist.py --dir MNIST_IDX_DIR [--epochs 30] [--threads 2]

The model of bench/pytorch_conv_step.py (PyTorch's padding arithmetic for Keras's 'same'); [0, 1]
pixels, Bernoulli from logits, summed loss, Adam lr 1e-3, batch 128, shuffled; test -ELBO per epoch
with one z sample per image, in nats per image. stdout: one JSON object; progress on stderr.
"""
import argparse, json, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--epochs", type=int, default=30)
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(1)


def idx(name):
    with open(os.path.join(args.dir, name), "rb") as f:
        data = f.read()
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=16).copy()).float().div(255).view(-1, 1, 28, 28)


train, test = idx("train-images-idx3-ubyte"), idx("t10k-images-idx3-ubyte")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_conv_step import ConvVAE  # noqa: E402  the model the step benchmark times


m = ConvVAE()
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
epochs, total = [], 0.0
for ep in range(1, args.epochs + 1):
    t0 = time.perf_counter()
    perm, tl = torch.randperm(train.shape[0]), 0.0
    for i in range(0, train.shape[0], 128):
        x = train[perm[i:i + 128]]
        opt.zero_grad(set_to_none=True)
        l = m.loss(x)
        l.backward()
        opt.step()
        tl += float(l)
    sec = time.perf_counter() - t0
    total += sec
    with torch.no_grad():
        vl = sum(float(m.loss(test[i:i + 1000])) for i in range(0, test.shape[0], 1000)) / test.shape[0]
    epochs.append(dict(epoch=ep, trainLoss=tl / train.shape[0], testLoss=vl, seconds=sec))
    sys.stderr.write(f"  pytorch epoch {ep}: train {tl / train.shape[0]:.2f}  test {vl:.2f}  ({sec:.1f} s)\n")
print(json.dumps(dict(torch=torch.__version__, threads=args.threads, epochs=epochs,
                      samplesPerSec=round(args.epochs * train.shape[0] / total, 1))))
