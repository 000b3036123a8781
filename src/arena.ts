/**
 * The one arena: every tensor the model touches lives in the kernels' linear memory, laid out by a
 * plan — header (RNG states) | params | grads | optimizer state | activations | grad activations |
 * data order | scratch. Every tensor starts 16-byte aligned; groups start 64-byte aligned and the
 * arena ends with slack for SIMD tail reads. Params, grads and each optimizer-state slot share one
 * layout, so "the gradient of a parameter" is its offset plus a constant, and zero-grad and the
 * optimizers are single flat loops. This table is the single source of offsets.
 *
 * Planning is pure data (`planArena`: sizes in, offsets out — a layout can be posted to a worker);
 * allocation is the owner's act (`allocate`: grow the memory to the layout's end; the network
 * zeroes its parameters, gradients and optimizer state once, when it is made). Activations and
 * scratch are never zeroed: every float of them is written before it is read.
 */
import type { Kernels } from './wasm.js';
import { WasmError } from './errors.js';

export interface Slot {
  name: string;
  offset: number;
  floats: number;
  shape: number[];
}

const TENSOR_ALIGN = 16;
const GROUP_ALIGN = 64;
const SLACK = 64;

const align = (n: number, a: number) => Math.ceil(n / a) * a;
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Builds a group: tensors placed back to back, each 16-byte aligned. */
export class GroupPlan {
  readonly slots: Slot[] = [];
  bytes = 0;
  add(name: string, shape: number[]): Slot {
    const floats = prod(shape);
    const slot = { name, offset: this.bytes, floats, shape };
    this.slots.push(slot);
    this.bytes = align(this.bytes + floats * 4, TENSOR_ALIGN);
    return slot;
  }
  get(name: string): Slot {
    const s = this.slots.find((x) => x.name === name);
    if (!s) throw new Error(`internal: no slot ${name}`);
    return s;
  }
}

/** What an arena is planned from. */
export interface ArenaSpec {
  /** First free byte of the module's memory (Kernels.heapBase). */
  heapBase: number;
  headerBytes: number;
  params: GroupPlan;
  /** Optimizer-state copies of the parameter layout. */
  stateSlots: number;
  acts: GroupPlan;
  dacts: GroupPlan;
  /** u32 words of the data-order buffer (the epoch's permutation). */
  orderWords: number;
  scratchBytes: number;
}

/** Absolute byte offsets of each group's start, and the end of the arena. */
export interface ArenaLayout {
  header: number;
  params: number;
  grads: number;
  state: number[];
  acts: number;
  dacts: number;
  order: number;
  scratch: number;
  paramBytes: number;
  actBytes: number;
  dactBytes: number;
  orderBytes: number;
  scratchBytes: number;
  end: number;
}

/**
 * Places the groups after the module's static data. Params, grads and the optimizer state come
 * first and depend only on the parameters, so a re-plan for a larger batch (same params, larger
 * activations) never moves them.
 */
export function planArena(s: ArenaSpec): ArenaLayout {
  let p = align(s.heapBase, GROUP_ALIGN);
  const header = p;
  p = align(p + s.headerBytes, GROUP_ALIGN);
  const paramBytes = align(s.params.bytes, GROUP_ALIGN);
  const params = p;
  p += paramBytes;
  const grads = p;
  p += paramBytes;
  const state: number[] = [];
  for (let i = 0; i < s.stateSlots; i++) {
    state.push(p);
    p += paramBytes;
  }
  const actBytes = align(s.acts.bytes, GROUP_ALIGN),
    dactBytes = align(s.dacts.bytes, GROUP_ALIGN);
  const orderBytes = align(s.orderWords * 4, GROUP_ALIGN),
    scratchBytes = align(s.scratchBytes, GROUP_ALIGN);
  const acts = p;
  p += actBytes;
  const dacts = p;
  p += dactBytes;
  const order = p;
  p += orderBytes;
  const scratch = p;
  p += scratchBytes;
  return {
    header,
    params,
    grads,
    state,
    acts,
    dacts,
    order,
    scratch,
    paramBytes,
    actBytes,
    dactBytes,
    orderBytes,
    scratchBytes,
    end: p + SLACK,
  };
}

/** Grows the memory so the layout fits. Views on the old buffer are detached: rebuild them after. */
export function allocate(k: Kernels, layout: ArenaLayout): void {
  const have = k.memory.buffer.byteLength;
  if (layout.end <= have) return;
  const pages = Math.ceil((layout.end - have) / 65536);
  try {
    k.memory.grow(pages);
  } catch (e) {
    throw new WasmError(
      `cannot grow wasm memory to ${(layout.end / 2 ** 20).toFixed(1)} MiB: ${(e as Error).message}`,
    );
  }
}
