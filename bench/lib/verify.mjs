// Verification before timing: the bench stops rather than report figures of a kernel or a system
// that computes the wrong numbers. bench/run.mjs lets a VerificationError through its per-section
// error handling (which otherwise turns a failure into a note) and exits non-zero.

export class VerificationError extends Error {
  constructor(message) {
    super(message);
    this.name = 'VerificationError';
  }
}

/**
 * The element with the largest |actual − ref| / max(atol, rtol·|ref|) (NaN or ±Infinity where ref
 * is finite counts as Infinity): { index, ratio, got, want, bound }.
 */
export function worstError(actual, ref, { atol, rtol }) {
  let index = -1,
    ratio = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = actual[i],
      r = ref[i];
    if (a === r) continue;
    const err = Math.abs(a - r),
      bound = Math.max(atol, rtol * Math.abs(r));
    const q = Number.isNaN(err) ? Infinity : err / bound;
    if (q > ratio || index < 0) {
      ratio = q;
      index = i;
    }
  }
  return index < 0
    ? { index, ratio }
    : {
        index,
        ratio,
        got: actual[index],
        want: ref[index],
        bound: Math.max(atol, rtol * Math.abs(ref[index])),
      };
}

/** Throws a VerificationError naming `what` and the worst index unless |actual − ref| ≤ max(atol, rtol·|ref|) everywhere. */
export function verifyClose(actual, ref, tol, what) {
  if (actual.length !== ref.length)
    throw new VerificationError(`${what}: ${actual.length} values, the reference has ${ref.length}`);
  const w = worstError(actual, ref, tol);
  if (w.ratio > 1) {
    throw new VerificationError(
      `${what}: index ${w.index}: got ${w.got}, reference ${w.want} ` +
        `(error ${Math.abs(w.got - w.want).toExponential(3)} > tolerance ${w.bound.toExponential(3)} = max(atol ${tol.atol.toExponential(2)}, rtol ${tol.rtol} · |reference|))`,
    );
  }
}
