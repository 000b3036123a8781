// The reference VAE (PyTorch examples/vae) in TensorFlow.js, shared by the Node peer
// (bench/peers/tfjs.mjs) and the browser bench page (bench/browser/page.mjs). The model, loss and
// optimizer are those documented in the header of bench/peers/tfjs.mjs.
import * as tf from '@tensorflow/tfjs';
import { LAYERS, initLinear } from '../lib/refmodel.mjs';

// layout 'in-out': kernel K (in,out) as tf.layers.dense stores it, forward x·K (matMul nn);
// layout 'out-in': W (out,in) as torch.nn.Linear stores it, forward x·Wᵀ (matMul nt).
// Both start from the same numbers (K = Wᵀ); only the memory layout differs.
export function makeModel(layout = 'in-out') {
  const p = {};
  LAYERS.forEach(([name, fin, fout], k) => {
    const { w, b } = initLinear(k, fin, fout);
    let W;
    if (layout === 'in-out') {
      const kt = new Float32Array(fin * fout);
      for (let o = 0; o < fout; o++) for (let i = 0; i < fin; i++) kt[i * fout + o] = w[o * fin + i];
      W = tf.tensor2d(kt, [fin, fout]);
    } else {
      W = tf.tensor2d(w, [fout, fin]);
    }
    const B = tf.tensor1d(b);
    p[name] = {
      W: tf.variable(W, true, `${name}.weight`),
      b: tf.variable(B, true, `${name}.bias`),
      transposed: layout === 'out-in',
    };
    W.dispose();
    B.dispose();
  });
  const vars = LAYERS.flatMap(([name]) => [p[name].W, p[name].b]);
  const optimizer = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  return { p, vars, optimizer };
}

export function disposeModel(m) {
  m.vars.forEach((v) => v.dispose());
  m.optimizer.dispose();
}

const linear = (h, l) => tf.add(tf.matMul(h, l.W, false, l.transposed), l.b);

// Summed loss over batch and pixels; `eps` has shape (batch, 20).
export function vaeLoss(p, x, eps) {
  const h1 = tf.relu(linear(x, p.fc1));
  const mu = linear(h1, p.fc21);
  const logvar = linear(h1, p.fc22);
  const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps));
  const h3 = tf.relu(linear(z, p.fc3));
  const logits = linear(h3, p.fc4);
  // stable BCE-with-logits: max(l,0) - l*x + log1p(exp(-|l|))
  const bce = tf.sum(
    tf.add(tf.sub(tf.relu(logits), tf.mul(logits, x)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))),
  );
  const kl = tf.mul(tf.sum(tf.sub(tf.sub(tf.add(logvar, 1), tf.square(mu)), tf.exp(logvar))), -0.5);
  return tf.add(bce, kl);
}

// One full training step; returns the loss value (forces execution via dataSync).
export function trainStep(m, x, batch, zeroEps = false) {
  return tf.tidy(() => {
    const eps = zeroEps ? tf.zeros([batch, 20]) : tf.randomNormal([batch, 20]);
    const cost = m.optimizer.minimize(() => vaeLoss(m.p, x, eps), true, m.vars);
    return cost.dataSync()[0];
  });
}

export { tf };
