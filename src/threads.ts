/**
 * Threads for the kernels: a pool of workers started once per model, each running the same wasm
 * build on the model's shared memory, and the calling thread working as thread 0 (ggml and
 * pthreadpool style). A parallel call writes the kernel and its arguments to a small shared control
 * block, bumps a generation counter and wakes the workers; every thread calls the kernel with its
 * own (ith, nth) and the kernel computes that thread's share of the outputs (assembly/common.ts
 * share_lo/share_hi); the caller waits until all are done. Waiting spins briefly, then sleeps on
 * Atomics.wait (a sleeping round trip costs tens of µs, a spin about one).
 *
 * No kernel splits a reduction: every output float is computed by one thread in the single-thread
 * order, so the numbers are the same bits for any thread count. The pool runs only kernels (the
 * AssemblyScript runtime is not thread-safe; the kernels use none of it).
 *
 * A worker that dies (terminated, out of memory) never reports, and the caller, blocked waiting,
 * cannot see its exit event: a call that makes no progress for ThreadPool.stallMs gives the pool
 * up. Each worker claims its share of a call (a compare-and-swap on its claim word) before it
 * starts, so the caller can revoke the shares not yet started, compute them itself, and go on
 * alone — the same bits, since a share is the same numbers whoever computes it. Only a worker that
 * died inside its share (its outputs half-written) leaves the model unusable.
 *
 * The same claim lets the caller take over the share of a worker that comes late — still asleep,
 * or descheduled by other processes — once its own share is done, so a busy machine slows a call
 * to one thread's speed at worst, not to the scheduler's latency.
 */
import type { KernelExports } from './abi.js';
import { WasmError } from './errors.js';

/** The kernels that take (ith, nth) last, called without them. */
export const PARALLEL = [
  'linear_forward',
  'linear_backward',
  'conv2d_forward',
  'conv2d_backward',
  'conv_transpose2d_forward',
  'conv_transpose2d_backward',
  'act_forward',
  'act_backward',
  'elbo_forward_backward',
  'adam_step',
  'adagrad_step',
  'sgd_step',
] as const;
export type ParallelName = (typeof PARALLEL)[number];
type DropLast2<F> = F extends (...a: [...infer P, number, number]) => infer R ? (...a: P) => R : never;
/** The parallel kernels as the network calls them: the pool (or one thread) supplies (ith, nth). */
export type ParallelKernels = { [K in ParallelName]: DropLast2<KernelExports[K]> };

/** Where the control block's fields are (Int32 indices), and the arguments (Float64, from byte 64). */
const GEN = 0,
  PENDING = 1,
  FN = 2,
  ARGC = 3,
  STOP = 4,
  ERRORS = 5,
  NTH = 6;
const ARGS_AT = 64,
  MAX_ARGS = 24;
/**
 * Per worker i (1…nth−1), from this Int32 index on: its claim word (the call it started), its done
 * word (the call it finished) and its seen word (the last call it woke up for, claimed or not: a
 * thread that comes late to every call on a busy machine is alive, a terminated one is not).
 */
const SHARES_AT = (ARGS_AT + 8 * MAX_ARGS) >> 2;
const claimAt = (i: number) => SHARES_AT + 3 * i,
  doneAt = (i: number) => SHARES_AT + 3 * i + 1,
  seenAt = (i: number) => SHARES_AT + 3 * i + 2;
/** A claim word the caller has revoked: the worker's next compare-and-swap fails and it exits. */
const REVOKED = -1;
const REVOKED_TEXT = String(REVOKED);
/** Spins (≈ 2-5 µs) the caller waits for the workers to claim their shares before it takes them over. */
const GRACE = 2000;
/** Consecutive calls a worker must miss, without waking up for any, over ThreadPool.stallMs before the pool retires it. */
const LATE_CALLS = 1000;
/** @internal the control block's layout, for tests that fake a worker's state. */
export const CONTROL = { GEN, claimAt, doneAt, seenAt } as const;
/** Iterations a waiting thread spins before it sleeps (≈ 20-50 µs). */
const SPIN = 20000;

/** A worker as the pool needs it: Node's worker_threads Worker and a DOM Worker both fit. */
export interface ThreadWorker {
  postMessage(msg: unknown): void;
  terminate(): unknown;
  unref?(): void;
}
export interface SpawnedThread {
  worker: ThreadWorker;
  /** Resolves when the worker has instantiated the kernels, rejects with its error. */
  ready: Promise<void>;
}
/** Starts one worker running THREAD_SOURCE; the Node entry registers worker_threads, browsers use a Blob URL. */
export type ThreadSpawner = (source: string) => SpawnedThread;

let spawner: ThreadSpawner | null = null;
/** Registers how threads start (the Node entry registers worker_threads). */
export function setThreadSpawner(s: ThreadSpawner | null): void {
  spawner = s;
}

function browserSpawner(source: string): SpawnedThread {
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const worker = new Worker(url);
  const ready = new Promise<void>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent) => {
      URL.revokeObjectURL(url);
      if (e.data?.type === 'ready') resolve();
      else reject(new WasmError(`a kernel thread failed to start: ${e.data?.message ?? 'unknown error'}`));
    };
    worker.onerror = (e) => reject(new WasmError(`a kernel thread failed to start: ${e.message}`));
  });
  return { worker, ready };
}

let cores = 0;
/** Registers the core count (the Node entry: os.availableParallelism()). */
export function setHardwareThreads(n: number): void {
  cores = n;
}
/** The cores the runtime reports: navigator.hardwareConcurrency, or what the Node entry registered; 1 if unknown. */
export function hardwareThreads(): number {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return Math.max(1, cores || nav?.hardwareConcurrency || 1);
}

/** Why threads cannot run here ('' when they can). */
export function threadsUnavailable(): string {
  if (typeof SharedArrayBuffer !== 'function')
    return 'SharedArrayBuffer is not available (in browsers: the page is not cross-origin isolated; serve it with COOP/COEP headers)';
  const g = globalThis as { crossOriginIsolated?: boolean; document?: unknown; WorkerGlobalScope?: unknown };
  if (g.crossOriginIsolated === false)
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  if (typeof g.document !== 'undefined')
    return 'a browser main thread cannot Atomics.wait: train in a WorkerTrainer to use threads';
  if (!spawner && typeof Worker !== 'function') return 'this runtime has no Worker';
  return '';
}

/** The worker's program: self-contained (no imports), for worker_threads (eval) and Blob-URL workers alike. */
export const THREAD_SOURCE = `
'use strict';
const node = typeof process === 'object' && !!(process.versions && process.versions.node);
const port = node ? (typeof require === 'function' ? require('worker_threads') : process.getBuiltinModule('worker_threads')).parentPort : self;
const on = (fn) => (node ? port.on('message', fn) : (self.onmessage = (e) => fn(e.data)));
on(function start(msg) {
  if (!msg || msg.type !== 'start') return;
  let fns;
  try {
    const inst = new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } });
    fns = msg.names.map((n) => inst.exports[n]);
  } catch (e) {
    port.postMessage({ type: 'error', message: String(e && e.message || e) });
    return;
  }
  port.postMessage({ type: 'ready' });
  const c = new Int32Array(msg.control), args = new Float64Array(msg.control, ${ARGS_AT}, ${MAX_ARGS});
  const argv = [];
  for (let n = 0; n <= ${MAX_ARGS} + 2; n++) argv.push(new Array(n).fill(0));
  const ith = msg.ith, claim = ${SHARES_AT} + 3 * ith;
  let seen = 0; // the control block starts at generation 0: a worker that starts late still sees the first call
  for (;;) {
    let spins = 0;
    while (Atomics.load(c, ${GEN}) === seen) {
      if (++spins > ${SPIN}) { Atomics.wait(c, ${GEN}, seen); spins = 0; }
    }
    seen = Atomics.load(c, ${GEN});
    if (Atomics.load(c, ${STOP})) break;
    Atomics.store(c, claim + 2, seen); // awake, whether or not the share is still there to claim
    // claim this call's share. The claim word holds the last call the share was taken for: the one
    // before (claim it), this one (the caller took it itself: this thread came late), or ${REVOKED_TEXT}
    // (the caller gave up on the pool and computes the shares itself).
    const cl = Atomics.load(c, claim);
    if (cl === ${REVOKED_TEXT}) break;
    if (cl === seen || Atomics.compareExchange(c, claim, cl, seen) !== cl) {
      if (Atomics.load(c, claim) === ${REVOKED_TEXT}) break;
      continue;
    }
    const argc = c[${ARGC}], a = argv[argc + 2];
    for (let i = 0; i < argc; i++) a[i] = args[i];
    a[argc] = ith; a[argc + 1] = c[${NTH}];
    try { fns[c[${FN}]].apply(null, a); } catch (e) { Atomics.add(c, ${ERRORS}, 1); }
    Atomics.store(c, claim + 1, seen);
    if (Atomics.sub(c, ${PENDING}, 1) === 1) Atomics.notify(c, ${PENDING});
  }
  if (node) process.exit(0); else self.close();
});
`;

/**
 * Runs a parallel kernel: its arguments go through one fixed buffer (the pool's shared one, which
 * the workers read), and the calling thread computes share 0 of nth. Fixed parameters, no rest
 * array: a call allocates nothing. On its own this is the single-thread path, (ith, nth) = (0, 1);
 * ThreadPool adds the workers around the same call.
 */
export class KernelRunner {
  protected readonly fns: ((...a: number[]) => unknown)[];
  private readonly argv: number[][] = [];
  /** Threads each call is split over: nth, or 1 once a pool has lost its workers. */
  protected running: number;

  constructor(
    exports: KernelExports,
    readonly nth = 1,
    private readonly g: Float64Array<ArrayBufferLike> = new Float64Array(MAX_ARGS),
  ) {
    this.running = nth;
    this.fns = PARALLEL.map((n) => exports[n] as unknown as (...a: number[]) => unknown);
    for (let n = 0; n <= MAX_ARGS + 2; n++) this.argv.push(new Array<number>(n).fill(0));
  }

  /** Runs kernel `fn` (an index into PARALLEL) with `argc` arguments; returns the caller's share's result. */
  run(
    fn: number,
    argc: number,
    a0 = 0,
    a1 = 0,
    a2 = 0,
    a3 = 0,
    a4 = 0,
    a5 = 0,
    a6 = 0,
    a7 = 0,
    a8 = 0,
    a9 = 0,
    a10 = 0,
    a11 = 0,
    a12 = 0,
    a13 = 0,
    a14 = 0,
    a15 = 0,
    a16 = 0,
    a17 = 0,
    a18 = 0,
    a19 = 0,
    a20 = 0,
    a21 = 0,
  ): number {
    const g = this.g,
      a = this.argv[argc + 2];
    g[0] = a0;
    g[1] = a1;
    g[2] = a2;
    g[3] = a3;
    g[4] = a4;
    g[5] = a5;
    g[6] = a6;
    g[7] = a7;
    g[8] = a8;
    g[9] = a9;
    g[10] = a10;
    g[11] = a11;
    g[12] = a12;
    g[13] = a13;
    g[14] = a14;
    g[15] = a15;
    g[16] = a16;
    g[17] = a17;
    g[18] = a18;
    g[19] = a19;
    g[20] = a20;
    g[21] = a21;
    for (let i = 0; i < argc; i++) a[i] = g[i];
    a[argc] = 0;
    a[argc + 1] = this.running;
    this.begin(fn, argc);
    let r = 0,
      failed: unknown = null;
    try {
      r = this.fns[fn].apply(null, a) as number;
    } catch (e) {
      failed = e;
    }
    this.end(fn, failed, a, argc);
    return r;
  }

  /** Threads the calls run on now. */
  get threads(): number {
    return this.running;
  }

  /** Before the caller's share (the arguments are in the buffer): nothing to start on one thread. */
  protected begin(_fn: number, _argc: number): void {}

  /** After the caller's share (`a`: the call's arguments, (ith, nth) at argc): on one thread a kernel's failure is its own error. */
  protected end(_fn: number, failed: unknown, _a: number[], _argc: number): void {
    if (failed) throw failed;
  }
}

export class ThreadPool extends KernelRunner {
  /** How long a parallel call may make no progress before its pool is declared dead (ms). */
  static stallMs = 30_000;
  private readonly c: Int32Array;
  private disposed = false;
  /** Why the pool runs on the calling thread alone ('' while its workers serve). */
  lost = '';
  /** Workers' shares the calling thread took over because their thread came late (a count, for the bench). */
  taken = 0;
  /** Per worker: consecutive calls whose share the caller took over while the thread did not wake up, since when (ms), and its seen word then. */
  private readonly lateCalls: Int32Array;
  private readonly lateSince: Float64Array;
  private readonly lastSeen: Int32Array;

  private constructor(
    nth: number,
    private readonly workers: ThreadWorker[],
    control: SharedArrayBuffer,
    exports: KernelExports,
  ) {
    // the arguments go straight into the shared control block, where the workers read them
    super(exports, nth, new Float64Array(control, ARGS_AT, MAX_ARGS));
    this.c = new Int32Array(control);
    this.lateCalls = new Int32Array(nth);
    this.lateSince = new Float64Array(nth);
    this.lastSeen = new Int32Array(nth);
  }

  /** Starts nth − 1 workers on the module and its shared memory; the caller is thread 0. */
  static async start(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    exports: KernelExports,
    nth: number,
  ): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(4 * seenAt(nth));
    const spawn = spawner ?? browserSpawner;
    const started: SpawnedThread[] = [];
    try {
      for (let i = 1; i < nth; i++) {
        const t = spawn(THREAD_SOURCE);
        started.push(t);
        t.worker.postMessage({ type: 'start', module, memory, control, ith: i, names: [...PARALLEL] });
      }
      await Promise.all(started.map((t) => t.ready));
    } catch (e) {
      for (const t of started) void t.worker.terminate();
      throw e instanceof WasmError
        ? e
        : new WasmError(`could not start ${nth - 1} kernel thread(s): ${(e as Error)?.message ?? e}`);
    }
    // the workers block in Atomics.wait between calls: they must not keep a Node program alive
    for (const t of started) t.worker.unref?.();
    return new ThreadPool(
      nth,
      started.map((t) => t.worker),
      control,
      exports,
    );
  }

  /** Wakes the workers on the call whose arguments are in the control block. */
  protected override begin(fn: number, argc: number): void {
    if (this.disposed) throw new WasmError('the kernel threads have been stopped (the model was disposed)');
    if (this.lost) return; // the calling thread alone
    const c = this.c;
    c[FN] = fn;
    c[ARGC] = argc;
    c[NTH] = this.nth;
    Atomics.store(c, PENDING, this.nth - 1);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
  }

  /**
   * Waits until every worker has done its share (even when the caller's failed: the next call
   * must find them idle), then reports a failure on any thread as a WasmError. A call that makes
   * no progress for ThreadPool.stallMs gives the workers up (see the module doc).
   */
  protected override end(fn: number, failed: unknown, a: number[], argc: number): void {
    if (this.lost) return super.end(fn, failed, a, argc);
    const c = this.c;
    // A worker that has not claimed its share by the time the caller's own is done came late
    // (asleep in Atomics.wait, or descheduled on a busy machine): the caller takes the share and
    // computes it — the same numbers whoever computes a share — instead of waiting for the thread.
    // On a loaded machine a call then costs at most what one thread would, never a scheduler's
    // wait per call.
    const gen = Atomics.load(c, GEN);
    // a spinning worker claims within a fraction of a µs: give it a few µs before taking its share,
    // so a call whose own share is tiny does not take the others' work from running threads
    for (let spin = 0, i = 1; i < this.nth && spin < GRACE; spin++)
      if (Atomics.load(c, claimAt(i)) === gen) i++;
    let took = false;
    for (let i = 1; i < this.nth; i++) {
      // a plain load first: the usual case (claimed) then costs no read-modify-write of the line
      if (
        Atomics.load(c, claimAt(i)) !== gen - 1 ||
        Atomics.compareExchange(c, claimAt(i), gen - 1, gen) !== gen - 1
      ) {
        this.lateCalls[i] = 0; // it claimed its share: alive
        continue;
      }
      // late, but awake since the last time (it woke up for a later call): alive, only slow
      const woke = Atomics.load(c, seenAt(i));
      if (woke !== this.lastSeen[i]) {
        this.lastSeen[i] = woke;
        this.lateCalls[i] = 0;
      }
      if (this.lateCalls[i]++ === 0) this.lateSince[i] = performance.now();
      took = true;
      a[argc] = i;
      try {
        this.fns[fn].apply(null, a);
      } catch (e) {
        failed ??= e;
      }
      this.taken++;
      Atomics.store(c, doneAt(i), gen);
      Atomics.sub(c, PENDING, 1);
    }
    a[argc] = 0;
    // A thread that died (terminated, out of memory) never reports: the caller, blocked here, cannot
    // see its exit event, so a call that makes no progress for ThreadPool.stallMs ends the pool.
    let spins = 0,
      last = -1,
      since = 0;
    for (let p = Atomics.load(c, PENDING); p !== 0; p = Atomics.load(c, PENDING)) {
      if (++spins > SPIN) {
        if (p !== last) {
          last = p;
          since = performance.now();
        } else if (performance.now() - since > ThreadPool.stallMs) {
          this.giveUp(fn, p, a, argc);
          break;
        }
        Atomics.wait(c, PENDING, p, 100);
        spins = 0;
      }
    }
    // a thread late for every call over stallMs (and many calls) has stopped: end the workers
    if (took) this.retireLate(fn);
    const errors = Atomics.exchange(c, ERRORS, 0);
    if (failed || errors) {
      const what = failed ? `: ${(failed as Error)?.message ?? String(failed)}` : '';
      throw new WasmError(
        `${PARALLEL[fn]} failed on ${errors + (failed ? 1 : 0)} of ${this.nth} threads${what}`,
      );
    }
  }

  /**
   * The workers made no progress for stallMs: revokes every share not yet started (a worker's
   * compare-and-swap then fails, and it exits), stops the workers, and computes those shares on
   * the calling thread, which runs every later call alone. A share that was started but not
   * finished has half-written outputs: then the pool is stopped and the call is a WasmError.
   */
  private giveUp(fn: number, stalled: number, a: number[], argc: number): void {
    const c = this.c,
      gen = Atomics.load(c, GEN),
      mine: number[] = [];
    let partial = 0;
    for (let i = 1; i < this.nth; i++) {
      const claimed = Atomics.exchange(c, claimAt(i), REVOKED);
      if (claimed !== gen) mine.push(i);
      else if (Atomics.load(c, doneAt(i)) !== gen) partial++;
    }
    const what = `${stalled} of ${this.nth - 1} kernel thread(s) stopped responding in ${PARALLEL[fn]} (no progress for ${ThreadPool.stallMs} ms)`;
    if (partial) {
      this.dispose();
      throw new WasmError(
        `${what} and ${partial} died inside its share of the call, whose outputs are half-written; the model's threads are stopped (load the model again from its last save)`,
      );
    }
    this.stopWorkers();
    this.lost = `${what}: the model runs on 1 thread from then on (the same numbers)`;
    this.running = 1;
    for (const i of mine) {
      a[argc] = i; // (ith, nth) of the call: the share exactly as the worker would have computed it
      this.fns[fn].apply(null, a);
    }
    a[argc] = 0;
  }

  /**
   * Workers whose share the caller took over on each of the last LATE_CALLS or more calls, for
   * longer than stallMs, without waking up for any of them, have stopped (terminated, or never
   * scheduled; a thread that wakes up too late for every call on a busy machine is kept): the pool stops its workers
   * and runs every later call on the calling thread — as giveUp does, but without a stalled call,
   * since the caller already computed their shares.
   */
  private retireLate(fn: number): void {
    let late = 0;
    const now = performance.now();
    for (let i = 1; i < this.nth; i++)
      if (this.lateCalls[i] >= LATE_CALLS && now - this.lateSince[i] > ThreadPool.stallMs) late++;
    if (!late) return;
    this.stopWorkers();
    this.lost = `${late} of ${this.nth - 1} kernel thread(s) stopped responding in ${PARALLEL[fn]} (no progress for ${ThreadPool.stallMs} ms): the model runs on 1 thread from then on (the same numbers)`;
    this.running = 1;
  }

  private stopWorkers(): void {
    Atomics.store(this.c, STOP, 1);
    Atomics.add(this.c, GEN, 1);
    Atomics.notify(this.c, GEN);
    for (const w of this.workers) void w.terminate();
  }

  /** Ends the workers (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stopWorkers();
  }
}

/** The parallel kernels on a runner (the pool, or one thread). Booleans travel as 0/1 (what wasm makes of them anyway). */
export function parallelKernels(pool: KernelRunner): ParallelKernels {
  const id = (n: ParallelName) => PARALLEL.indexOf(n);
  const LF = id('linear_forward'),
    LB = id('linear_backward'),
    AF = id('act_forward'),
    AB = id('act_backward');
  const CF = id('conv2d_forward'),
    CB = id('conv2d_backward'),
    TF = id('conv_transpose2d_forward'),
    TB = id('conv_transpose2d_backward');
  const EL = id('elbo_forward_backward'),
    AD = id('adam_step'),
    AG = id('adagrad_step'),
    SG = id('sgd_step');
  const b = (x: boolean) => (x ? 1 : 0);
  // conv2d_backward and conv_transpose2d_backward take the same arguments
  const convBackward =
    (K: number): ParallelKernels['conv2d_backward'] =>
    (dinp, dw, db, dout, inp, w, s, B, C, H, W, OC, OH, OW, KH, KW, st, pad, accD, accP) =>
      void pool.run(
        K,
        20,
        dinp,
        dw,
        db,
        dout,
        inp,
        w,
        s,
        B,
        C,
        H,
        W,
        OC,
        OH,
        OW,
        KH,
        KW,
        st,
        pad,
        b(accD),
        b(accP),
      );
  return {
    linear_forward: (out, inp, w, bb, s, B, C, OC) => void pool.run(LF, 8, out, inp, w, bb, s, B, C, OC),
    linear_backward: (dinp, dw, db, dout, inp, w, s, B, C, OC, accD, accP) =>
      void pool.run(LB, 12, dinp, dw, db, dout, inp, w, s, B, C, OC, b(accD), b(accP)),
    conv2d_forward: (out, inp, w, bb, s, B, C, H, W, OC, OH, OW, KH, KW, st, pad) =>
      void pool.run(CF, 16, out, inp, w, bb, s, B, C, H, W, OC, OH, OW, KH, KW, st, pad),
    conv2d_backward: convBackward(CB),
    conv_transpose2d_forward: (out, inp, w, bb, s, B, C, H, W, OC, OH, OW, KH, KW, st, pad) =>
      void pool.run(TF, 16, out, inp, w, bb, s, B, C, H, W, OC, OH, OW, KH, KW, st, pad),
    conv_transpose2d_backward: convBackward(TB),
    act_forward: (out, inp, n, kind, alpha) => void pool.run(AF, 5, out, inp, n, kind, alpha),
    act_backward: (dinp, dout, inp, out, n, kind, alpha) =>
      void pool.run(AB, 7, dinp, dout, inp, out, n, kind, alpha),
    elbo_forward_backward: (
      rec,
      kl,
      recs,
      dout,
      doutlv,
      dmu,
      dlv,
      rowloss,
      out,
      outlv,
      x,
      mu,
      lv,
      sw,
      B,
      L,
      D,
      Z,
      lik,
      sigma,
      beta,
      scale,
    ) =>
      pool.run(
        EL,
        22,
        rec,
        kl,
        recs,
        dout,
        doutlv,
        dmu,
        dlv,
        rowloss,
        out,
        outlv,
        x,
        mu,
        lv,
        sw,
        B,
        L,
        D,
        Z,
        lik,
        sigma,
        beta,
        scale,
      ),
    adam_step: (p, g, m, v, n, lr, b1, b2, eps, wd, ss, bc2, gs, dec) =>
      void pool.run(AD, 14, p, g, m, v, n, lr, b1, b2, eps, wd, ss, bc2, gs, b(dec)),
    adagrad_step: (p, g, s, n, clr, eps, wd, gs) => void pool.run(AG, 8, p, g, s, n, clr, eps, wd, gs),
    sgd_step: (p, g, bb, n, lr, mom, damp, wd, nest, first, gs) =>
      void pool.run(SG, 11, p, g, bb, n, lr, mom, damp, wd, b(nest), b(first), gs),
  };
}
