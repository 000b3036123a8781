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

/** Relative tolerance of the loss check across systems (the measured spread is within 4.5e-6). */
export const LOSS_RTOL = 1e-4;

/**
 * The loss check's reference (PyTorch when it ran, else the first system checked) and, for every
 * check, the largest relative difference of its losses to the reference's (Infinity when the
 * numbers of steps differ; NaN when a loss is not finite).
 */
export function lossDiffs(checks) {
  const ref = checks.find((c) => c.system === 'pytorch') ?? checks[0];
  const maxRel = (c) => {
    if (c.lossPerStep.length !== ref.lossPerStep.length) return Infinity;
    if (!c.lossPerStep.every(Number.isFinite) || !ref.lossPerStep.every(Number.isFinite)) return NaN;
    return c === ref
      ? 0
      : Math.max(
          ...c.lossPerStep.map((v, i) => Math.abs(v - ref.lossPerStep[i]) / Math.abs(ref.lossPerStep[i])),
        );
  };
  return { ref, rows: checks.map((c) => ({ check: c, maxRel: maxRel(c) })) };
}

/** Throws a VerificationError naming every system whose losses differ from the reference's by more than rtol (or are not finite). */
export function verifyLosses(checks, rtol = LOSS_RTOL) {
  if (!checks.length) return;
  const { ref, rows } = lossDiffs(checks);
  const name = (c) => `${c.system} (${c.env})`;
  const losses = (c) => c.lossPerStep.map((v) => v.toFixed(4)).join(', ');
  const bad = rows.filter((r) => !(r.maxRel <= rtol));
  if (bad.length) {
    throw new VerificationError(
      'loss check (batch 32, ε = 0, same parameters and inputs): ' +
        bad
          .map(({ check: c, maxRel }) =>
            c === ref
              ? `the reference ${name(ref)} has a non-finite loss: ${losses(c)}`
              : `${name(c)} differs from ${name(ref)} by ${Number.isNaN(maxRel) ? 'a non-finite loss' : Number.isFinite(maxRel) ? `${maxRel.toExponential(2)} relative` : 'its number of steps'} ` +
                `(tolerance ${rtol}): losses ${losses(c)} vs ${losses(ref)}`,
          )
          .join('; '),
    );
  }
}
