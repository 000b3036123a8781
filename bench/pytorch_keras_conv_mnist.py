#!/usr/bin/python3
"""Keras-io's convolutional VAE on MNIST in PyTorch, as `npm run reproduce -- keras-conv` trains it in wasm-vae.

    /usr/bin/python3 bench/pytorch_keras_conv_mnist.py --dir MNIST_IDX_DIR [--epochs 30] [--threads 1]
        [--train-rows N] [--test-rows N] [--time-budget SECONDS] [--checkpoint PATH [--resume]]

The model of bench/pytorch_conv_step.py (PyTorch's padding arithmetic for Keras's 'same'); [0, 1]
pixels, Bernoulli from logits, summed loss, Adam lr 1e-3, batch 128, shuffled; test -ELBO per epoch
with one z sample per image, in nats per image. --time-budget stops before the first minibatch
that starts after it (the unfinished epoch is not reported, as wasm-vae's Trainer.fit does).
--checkpoint saves model, Adam state, RNG state and the epochs so far after every epoch (written
to a temporary name and renamed); --resume continues from it. stdout: one JSON object; progress
on stderr.
"""
import argparse, json, os, sys, time
import numpy as np
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--epochs", type=int, default=30)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--train-rows", type=int, default=60000)
ap.add_argument("--test-rows", type=int, default=10000)
ap.add_argument("--time-budget", type=float, default=None)
ap.add_argument("--checkpoint", default=None)
ap.add_argument("--resume", action="store_true")
args = ap.parse_args()
if args.resume and not (args.checkpoint and os.path.exists(args.checkpoint)):
    sys.exit(f"--resume: no checkpoint at {args.checkpoint}")
torch.set_num_threads(args.threads)
torch.manual_seed(1)
t_start = time.perf_counter()


def idx(name, rows):
    with open(os.path.join(args.dir, name), "rb") as f:
        data = f.read()
    x = np.frombuffer(data, dtype=np.uint8, offset=16)[: rows * 784].copy()
    return torch.from_numpy(x).float().div(255).view(-1, 1, 28, 28)


train = idx("train-images-idx3-ubyte", args.train_rows)
test = idx("t10k-images-idx3-ubyte", args.test_rows)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_conv_step import ConvVAE  # noqa: E402  the model the step benchmark times


m = ConvVAE()
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
epochs, total = [], 0.0
if args.resume:
    ck = torch.load(args.checkpoint)
    m.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    torch.set_rng_state(ck["rng"])
    epochs, total = ck["epochs"], ck["trainSeconds"]
stop_reason = "completed"
for ep in range(len(epochs) + 1, args.epochs + 1):
    t0 = time.perf_counter()
    perm, tl, cut = torch.randperm(train.shape[0]), 0.0, False
    for i in range(0, train.shape[0], 128):
        if args.time_budget is not None and time.perf_counter() - t_start > args.time_budget:
            cut = True
            break
        x = train[perm[i:i + 128]]
        opt.zero_grad(set_to_none=True)
        l = m.loss(x)
        l.backward()
        opt.step()
        tl += float(l)
    if cut:
        stop_reason = "time budget"
        break
    sec = time.perf_counter() - t0
    total += sec
    with torch.no_grad():
        vl = sum(float(m.loss(test[i:i + 1000])) for i in range(0, test.shape[0], 1000)) / test.shape[0]
    epochs.append(dict(epoch=ep, trainLoss=tl / train.shape[0], testLoss=vl, seconds=sec))
    sys.stderr.write(f"  pytorch epoch {ep}: train {tl / train.shape[0]:.2f}  test {vl:.2f}  ({sec:.1f} s)\n")
    if args.checkpoint:
        tmp = f"{args.checkpoint}.tmp-{os.getpid()}"
        torch.save(dict(model=m.state_dict(), optimizer=opt.state_dict(), rng=torch.get_rng_state(),
                        epochs=epochs, trainSeconds=total), tmp)
        os.replace(tmp, args.checkpoint)
print(json.dumps(dict(torch=torch.__version__, threads=args.threads, epochs=epochs, stopReason=stop_reason,
                      trainRows=train.shape[0], testRows=test.shape[0], trainSeconds=total,
                      samplesPerSec=round(len(epochs) * train.shape[0] / total, 1) if total > 0 else 0)))
