/**
 * The one arena: every tensor the model touches lives in the kernels' linear memory, laid out once
 * by a plan — header (RNG states) | params | grads | optimizer state | activations | grad
 * activations | scratch. Every tensor starts 16-byte aligned; groups start 64-byte aligned and the
 * arena ends with slack for SIMD tail reads. Params, grads and each optimizer-state slot share one
 * layout, so "the gradient of a parameter" is its offset plus a constant, and zero-grad and the
 * optimizers are single flat loops. This table is the single source of offsets.
 */
import type { Kernels } from './wasm.js';

export interface Slot { name: string; offset: number; floats: number; shape: number[] }

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

export interface ArenaLayout {
  /** Absolute byte offsets of each group's start. */
  header: number; params: number; grads: number; state: number[]; acts: number; dacts: number; scratch: number;
  paramBytes: number; actBytes: number; dactBytes: number; scratchBytes: number;
  end: number;
}

/**
 * Places the groups after the module's static data. Params, grads and `stateSlots` optimizer-state
 * copies come first and never move; activations and scratch follow and may be re-planned for a
 * larger batch (`replanActivations`) without touching the parameters.
 */
export function planArena(k: Kernels, headerBytes: number, params: GroupPlan, stateSlots: number,
                          acts: GroupPlan, dacts: GroupPlan, scratchBytes: number): ArenaLayout {
  let p = align(k.heapBase, GROUP_ALIGN);
  const header = p; p = align(p + headerBytes, GROUP_ALIGN);
  const paramBytes = align(params.bytes, GROUP_ALIGN);
  const pOff = p; p += paramBytes;
  const gOff = p; p += paramBytes;
  const state: number[] = [];
  for (let i = 0; i < stateSlots; i++) { state.push(p); p += paramBytes; }
  return placeActivations(k, { header, params: pOff, grads: gOff, state, paramBytes }, p, acts, dacts, scratchBytes);
}

function placeActivations(k: Kernels, fixed: Pick<ArenaLayout, 'header' | 'params' | 'grads' | 'state' | 'paramBytes'>, start: number,
                          acts: GroupPlan, dacts: GroupPlan, scratchBytes: number): ArenaLayout {
  let p = align(start, GROUP_ALIGN);
  const actBytes = align(acts.bytes, GROUP_ALIGN), dactBytes = align(dacts.bytes, GROUP_ALIGN);
  const a = p; p += actBytes;
  const d = p; p += dactBytes;
  const s = p; p += align(scratchBytes, GROUP_ALIGN);
  const end = p + SLACK;
  ensureMemory(k, end);
  return { ...fixed, acts: a, dacts: d, scratch: s, actBytes, dactBytes, scratchBytes, end };
}

/** Re-places activations and scratch after the fixed groups (params stay where they are). */
export function replanActivations(k: Kernels, layout: ArenaLayout, acts: GroupPlan, dacts: GroupPlan, scratchBytes: number): ArenaLayout {
  const fixedEnd = layout.state.length ? layout.state[layout.state.length - 1] + layout.paramBytes : layout.grads + layout.paramBytes;
  return placeActivations(k, layout, fixedEnd, acts, dacts, scratchBytes);
}

/** Grows the memory so `bytes` fit. Views on the old buffer are detached: rebuild them after. */
export function ensureMemory(k: Kernels, bytes: number): void {
  const have = k.memory.buffer.byteLength;
  if (bytes <= have) return;
  const pages = Math.ceil((bytes - have) / 65536);
  try {
    k.memory.grow(pages);
  } catch (e) {
    throw new RangeError(`cannot grow wasm memory to ${(bytes / 2 ** 20).toFixed(1)} MiB: ${(e as Error).message}`);
  }
}
