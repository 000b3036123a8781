#!/usr/bin/python3
"""Peer benchmark: the reference VAE (PyTorch examples/vae) trained with PyTorch on one CPU thread.

    /usr/bin/python3 bench/pytorch_step.py [--batches 32,128,512] [--seconds 2]
        [--gemm-seconds 0.5] [--warmup 1] [--gemm-batches 128] [--only check,step,gemm,act]
        [--json out.json]

--only takes a comma list (default check,step,gemm); act = relu/tanh forward and backward on
128x400. Figures: median with p10/p90 and min/max over the timed samples.

Model (identical to bench/peers/tfjs.mjs and to wasm-vae's reference):
  fc1 Linear(784,400)+ReLU; fc21 Linear(400,20) -> mu; fc22 Linear(400,20) -> logvar;
  z = mu + exp(0.5*logvar)*eps, eps ~ N(0,I) (one sample); fc3 Linear(20,400)+ReLU;
  fc4 Linear(400,784) -> logits.
  loss = sum BCE-with-logits(logits, x) + KL, KL = -0.5*sum(1 + logvar - mu^2 - exp(logvar)).
  Adam lr 1e-3 (PyTorch defaults otherwise: betas (0.9, 0.999), eps 1e-8).

Inputs and initial parameters come from the same counter-based mulberry32 generator as the
tfjs peer, so the deterministic `check` losses of both scripts are directly comparable.
Progress goes to stderr; stdout carries exactly one JSON object. Exit code 3: torch missing.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import sys
import time

# Single-threaded everywhere. torch.set_num_threads() sets the OpenMP/intra-op pool only; the
# pthread build of OpenBLAS that Debian's torch calls for sgemm has its own pool, sized from
# OPENBLAS_NUM_THREADS when the library loads (we also call openblas_set_num_threads(1) below).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch
    import torch.nn.functional as F
    import numpy as np
except ImportError as e:  # pragma: no cover - environment dependent
    sys.stderr.write(
        "error: PyTorch (and numpy) are required for this benchmark: %s\n"
        "Run it with Debian's interpreter, /usr/bin/python3, which has torch installed "
        "(apt-get install python3-torch).\n" % e
    )
    sys.exit(3)


def log(*a):
    sys.stderr.write(" ".join(str(x) for x in a) + "\n")
    sys.stderr.flush()


# ------------------------------------------------------------------ deterministic data
def uniform(seed, n):
    """Counter-based mulberry32, bit-identical to uniform() in bench/peers/tfjs.mjs."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        t = ((np.uint64(seed) + i * np.uint64(0x6D2B79F5)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        t = (t ^ (t >> np.uint32(15))) * (t | np.uint32(1))
        t = t ^ (t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61)))
        t = t ^ (t >> np.uint32(14))
    return (t.astype(np.float64) / 4294967296.0).astype(np.float32)


X_SEED = 1
LAYERS = [("fc1", 784, 400), ("fc21", 400, 20), ("fc22", 400, 20), ("fc3", 20, 400), ("fc4", 400, 784)]


class VAE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        for k, (name, fin, fout) in enumerate(LAYERS):
            lin = torch.nn.Linear(fin, fout)
            bound = 1.0 / (fin ** 0.5)  # nn.Linear default init range, drawn from our generator
            w = (2.0 * uniform(100 + k, fout * fin).astype(np.float64) - 1.0) * bound
            b = (2.0 * uniform(200 + k, fout).astype(np.float64) - 1.0) * bound
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w.astype(np.float32).reshape(fout, fin)))
                lin.bias.copy_(torch.from_numpy(b.astype(np.float32)))
            setattr(self, name, lin)

    def forward(self, x, eps):
        h1 = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def vae_loss(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kl


def make_model():
    model = VAE()
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def train_step(model, opt, x, zero_eps=False):
    eps = torch.zeros(x.shape[0], 20) if zero_eps else torch.randn(x.shape[0], 20)
    opt.zero_grad(set_to_none=True)
    logits, mu, logvar = model(x, eps)
    loss = vae_loss(logits, x, mu, logvar)
    loss.backward()
    opt.step()
    return loss.item()


# ------------------------------------------------------------------ timing
def measure(fn, seconds, warm_seconds, min_sample_ms, min_warm_iters=3, min_samples=3):
    """Warm up (>= min_warm_iters calls and >= warm_seconds), then time samples of `reps` calls
    (reps chosen so a sample takes >= min_sample_ms) until `seconds` elapsed and at least
    `min_samples` samples exist. Returns per-call seconds of every sample."""
    t0 = time.perf_counter()
    warm = 0
    while warm < min_warm_iters or time.perf_counter() - t0 < warm_seconds:
        fn()
        warm += 1
    per_call_ms = (time.perf_counter() - t0) * 1000 / warm
    reps = max(1, -(-int(min_sample_ms * 1000) // max(1, int(per_call_ms * 1000))))
    per_call = []
    t0 = time.perf_counter()
    while len(per_call) < min_samples or time.perf_counter() - t0 < seconds:
        s = time.perf_counter()
        for _ in range(reps):
            fn()
        per_call.append((time.perf_counter() - s) / reps)
    return per_call, reps, len(per_call) * reps, warm


def rnd(v, d):
    return float("%.*g" % (d, v))


def _q(sorted_vals, p):
    """Quantile with linear interpolation between closest ranks (as bench/lib/measure.mjs)."""
    if len(sorted_vals) == 1:
        return sorted_vals[0]
    x = p * (len(sorted_vals) - 1)
    i = int(x)
    f = x - i
    return sorted_vals[i] * (1 - f) + sorted_vals[i + 1] * f if i + 1 < len(sorted_vals) else sorted_vals[i]


def spread(vals, d=5):
    s = sorted(vals)
    return {
        "median": rnd(statistics.median(vals), d),
        "p10": rnd(_q(s, 0.1), d),
        "p90": rnd(_q(s, 0.9), d),
        "min": rnd(s[0], d),
        "max": rnd(s[-1], d),
        "n": len(s),
    }


# ------------------------------------------------------------------ BLAS detection
def blas_info(openblas_threads=1):
    libs = sorted(
        {
            line.split()[-1]
            for line in open("/proc/self/maps")
            if len(line.split()) >= 6 and any(k in line.split()[-1] for k in ("blas", "lapack", "mkl"))
        }
    )
    openblas = [p for p in libs if "openblas" in os.path.basename(p)]
    info = {
        "openblasLoaded": bool(openblas),
        "libraries": libs,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        "torchBlasInfo": None,
        "torchCpuCapability": None,
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
    }
    config = torch.__config__.show()
    m = re.search(r"\bBLAS_INFO=([^,\s]*)", config)
    info["torchBlasInfo"] = "BLAS_INFO=" + m.group(1) if m else None  # 'generic' = system libblas.so.3
    m = re.search(r"\bLAPACK_INFO=([^,\s]*)", config)
    info["torchLapackInfo"] = "LAPACK_INFO=" + m.group(1) if m else None
    m = re.search(r"CPU capability usage:\s*(\S+)", config)
    info["torchCpuCapability"] = m.group(1) if m else None
    if openblas:
        import ctypes

        try:
            lib = ctypes.CDLL(openblas[0])  # already loaded: same handle
            lib.openblas_set_num_threads(openblas_threads)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            info["openblasConfig"] = lib.openblas_get_config().decode()
            info["openblasCorename"] = lib.openblas_get_corename().decode()
            info["openblasThreads"] = int(lib.openblas_get_num_threads())
        except (OSError, AttributeError) as e:
            info["openblasQueryError"] = str(e)
    return info


# ------------------------------------------------------------------ benchmarks
def run_check():
    batch = 32
    torch.manual_seed(0)
    model, opt = make_model()
    x = torch.from_numpy(uniform(X_SEED, batch * 784).reshape(batch, 784))
    losses = [train_step(model, opt, x, zero_eps=True) for _ in range(4)]
    return {"batch": batch, "eps": 0, "lossPerStep": losses, "note": "loss before Adam steps 1..4 (index 0 = at init)"}


def run_step(args):
    x_all = torch.from_numpy(uniform(X_SEED, max(args.batches) * 784).reshape(-1, 784))
    out = []
    for batch in args.batches:
        torch.manual_seed(0)
        model, opt = make_model()
        x = x_all[:batch].contiguous()
        last = [float("nan")]

        def fn():
            last[0] = train_step(model, opt, x)

        per_call, reps, steps, warm = measure(fn, args.seconds, args.warmup, 20)
        if not (last[0] == last[0] and abs(last[0]) != float("inf")):
            raise RuntimeError("non-finite loss %r at batch %d" % (last[0], batch))
        sps = spread([batch / s for s in per_call])
        log("step batch=%d: %s samples/s (min %s, max %s; %d steps)" % (batch, sps["median"], sps["min"], sps["max"], steps))
        out.append(
            {
                "batch": batch,
                "samplesPerSec": sps,
                "steps": steps,
                "samplesTimed": steps * batch,
                "stepsPerSample": reps,
                "warmupSteps": warm,
                "lastLossPerSample": rnd(last[0] / batch, 6),
            }
        )
    return out


def run_gemm(args):
    out = []
    seed = 1000
    for batch in args.gemm_batches:
        for name, fin, fout in LAYERS:
            if name == "fc22":
                continue  # same shapes as fc21
            inp = torch.from_numpy(uniform(seed, batch * fin).reshape(batch, fin))
            W = torch.from_numpy(uniform(seed + 1, fout * fin).reshape(fout, fin))
            dout = torch.from_numpy(uniform(seed + 2, batch * fout).reshape(batch, fout))
            seed += 3
            cases = [
                ("nt", batch, fout, fin, lambda: torch.matmul(inp, W.t())),  # forward
                ("nn", batch, fin, fout, lambda: torch.matmul(dout, W)),  # input grad
                ("tn", fout, fin, batch, lambda: torch.matmul(dout.t(), inp)),  # weight grad
            ]
            for layout, M, N, K, f in cases:
                per_call, reps, calls, _ = measure(f, args.gemm_seconds, min(0.1, args.gemm_seconds), 10)
                flops = 2 * M * N * K
                g = spread([flops / s / 1e9 for s in per_call], 4)
                log("gemm %s M=%d N=%d K=%d: %s GFLOP/s" % (layout, M, N, K, g["median"]))
                out.append(
                    {"layout": layout, "M": M, "N": N, "K": K, "batch": batch, "in": fin, "out": fout, "gflops": g, "calls": calls}
                )
    return out


def run_act(args):
    """relu / tanh forward and backward on (128, 400); backward = the autograd kernels
    (threshold_backward, tanh_backward) that loss.backward() runs for these activations."""
    rows, cols = 128, 400
    n = rows * cols
    x = torch.from_numpy(uniform(3000, n).reshape(rows, cols) * 4 - 2)
    dy = torch.from_numpy(uniform(3001, n).reshape(rows, cols) * 2 - 1)
    y_tanh = torch.tanh(x)
    cases = [
        ("relu", "forward", lambda: torch.relu(x)),
        ("relu", "backward", lambda: torch.ops.aten.threshold_backward(dy, x, 0)),
        ("tanh", "forward", lambda: torch.tanh(x)),
        ("tanh", "backward", lambda: torch.ops.aten.tanh_backward(dy, y_tanh)),
    ]
    out = []
    with torch.no_grad():
        for act, direction, f in cases:
            per_call, reps, calls, _ = measure(f, args.gemm_seconds, min(0.1, args.gemm_seconds), 10)
            g = spread([n / s / 1e9 for s in per_call], 4)
            log("act %s %s %dx%d: %s Gelem/s" % (act, direction, rows, cols, g["median"]))
            out.append({"act": act, "dir": direction, "rows": rows, "cols": cols, "n": n, "gelems": g, "calls": calls})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="32,128,512")
    ap.add_argument("--seconds", type=float, default=2.0, help="timed seconds per step measurement")
    ap.add_argument("--gemm-seconds", type=float, default=None, help="timed seconds per GEMM (default min(0.5, seconds/4))")
    ap.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per step measurement")
    ap.add_argument("--gemm-batches", default=None, help="batch sizes of the GEMM shapes (default: --batches)")
    ap.add_argument("--only", default=None, help="comma list of check, step, gemm, act (default check,step,gemm)")
    ap.add_argument("--json", default=None, help="also write the JSON here")
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    args.gemm_batches = [int(b) for b in args.gemm_batches.split(",")] if args.gemm_batches else args.batches
    parts = args.only.split(",") if args.only else ["check", "step", "gemm"]
    if any(p not in ("check", "step", "gemm", "act") for p in parts):
        ap.error("--only takes a comma list of check, step, gemm, act")
    if any(b <= 0 for b in args.batches) or args.seconds <= 0:
        ap.error("batches and seconds must be positive")
    if args.gemm_seconds is None:
        args.gemm_seconds = min(0.5, args.seconds / 4)

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.set_grad_enabled(True)
    _ = torch.matmul(torch.ones(64, 64), torch.ones(64, 64))  # make sure the BLAS is loaded
    blas = blas_info()
    log(
        "torch %s threads=%d blas=%s core=%s openblasThreads=%s"
        % (torch.__version__, torch.get_num_threads(), blas["libraries"], blas.get("openblasCorename"), blas.get("openblasThreads"))
    )

    t0 = time.perf_counter()
    result = {
        "system": "pytorch",
        "torchVersion": torch.__version__,
        "backend": "cpu",
        "simd": blas["torchCpuCapability"],
        "threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "blas": blas,
        "config": {
            "model": "fc1 784->400 relu; fc21/fc22 400->20; z=mu+exp(0.5 logvar)*eps; fc3 20->400 relu; fc4 400->784 logits",
            "loss": "sum BCE-with-logits + KL (sum over batch)",
            "optimizer": "Adam lr=1e-3 betas=(0.9,0.999) eps=1e-8",
            "batches": args.batches,
            "gemmBatches": args.gemm_batches,
            "stepSeconds": args.seconds,
            "gemmSeconds": args.gemm_seconds,
            "warmupSeconds": args.warmup,
            "weightLayout": "out-in",
            "flops": "2*M*N*K",
        },
        "check": None,
        "step": [],
        "gemm": [],
    }
    if "check" in parts:
        result["check"] = run_check()
    if "step" in parts:
        result["step"] = run_step(args)
    if "gemm" in parts:
        result["gemm"] = run_gemm(args)
    if "act" in parts:
        result["act"] = run_act(args)
    result["wallSeconds"] = rnd(time.perf_counter() - t0, 4)

    text = json.dumps(result, indent=2) + "\n"
    sys.stdout.write(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
