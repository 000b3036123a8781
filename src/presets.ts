/**
 * Named model configurations for the convolutional VAEs people use on 28×28 grey images (MNIST,
 * Fashion-MNIST): spread them into VAE.create's options, e.g.
 * `VAE.create({ ...PRESETS.kerasIoConv, seed: 1 })`. Layers are wasm-vae's entries (src/config.ts),
 * with PyTorch's padding arithmetic standing in for TensorFlow's 'same' padding: the output sizes
 * are Keras' own (28 → 14 → 7 and back); a stride-2 'same' convolution in TensorFlow pads one pixel
 * after the image only, PyTorch's padding 1 one on each side, so the windows sit one pixel apart.
 */
import type { ImageModelOptions } from './config.js';

/** A model preset: the options of an image model, frozen. */
export type Preset = Readonly<ImageModelOptions>;

/**
 * Keras-io's convolutional VAE (François Chollet, "Variational AutoEncoder",
 * https://keras.io/examples/generative/vae/): Conv2D(32, 3, strides 2) → Conv2D(64, 3, strides 2)
 * → Dense(16) → z of 2; Dense(7·7·64) → Reshape → Conv2DTranspose(64, 3, strides 2) →
 * Conv2DTranspose(32, 3, strides 2) → Conv2DTranspose(1, 3) (the output head); ReLU; Bernoulli
 * from logits (the example's summed binary cross-entropy). 134,165 parameters, as its summary
 * (encoder 69,076 + decoder 65,089). The example trains 30 epochs, batch 128, Adam (lr 1e-3).
 */
const kerasIoConv: Preset = Object.freeze({
  inputShape: [1, 28, 28],
  encoder: [
    { conv: 32, kernel: 3, stride: 2, padding: 1 },
    { conv: 64, kernel: 3, stride: 2, padding: 1 },
    { dense: 16 },
  ],
  latentDim: 2,
  decoder: [
    { dense: 7 * 7 * 64 },
    { reshape: [64, 7, 7] },
    { deconv: 64, kernel: 3, stride: 2, padding: 1, outputPadding: 1 },
    { deconv: 32, kernel: 3, stride: 2, padding: 1, outputPadding: 1 },
  ],
  activation: 'relu',
  likelihood: 'bernoulli',
}) as Preset;

/**
 * TensorFlow Probability's convolutional VAE (the "Probabilistic Layers VAE" example,
 * tensorflow_probability/examples/jupyter_notebooks/Probabilistic_Layers_VAE.ipynb, and the TF
 * blog post "Variational Autoencoders with Tensorflow Probability Layers", 2019): base depth 32,
 * encoded size 16; five 5×5 / 7×7 convolutions 28 → 28 → 14 → 14 → 7 → 1, a mirrored stack of
 * six transposed convolutions 1 → 7 → 7 → 14 → 14 → 28 → 28, leaky ReLU (TensorFlow's α = 0.2),
 * Bernoulli pixels. "Style": the posterior here is diagonal (TFP's is a full-covariance
 * MultivariateNormalTriL), the output head is wasm-vae's 3×3 transposed convolution (TFP's a 5×5
 * Conv2D), and there is no x − 0.5 input shift.
 */
const tfpConv: Preset = Object.freeze({
  inputShape: [1, 28, 28],
  encoder: [
    { conv: 32, kernel: 5, stride: 1, padding: 2 },
    { conv: 32, kernel: 5, stride: 2, padding: 2 },
    { conv: 64, kernel: 5, stride: 1, padding: 2 },
    { conv: 64, kernel: 5, stride: 2, padding: 2 },
    { conv: 64, kernel: 7, stride: 1, padding: 0 },
  ],
  latentDim: 16,
  decoder: [
    { reshape: [16, 1, 1] },
    { deconv: 64, kernel: 7, stride: 1, padding: 0 },
    { deconv: 64, kernel: 5, stride: 1, padding: 2 },
    { deconv: 64, kernel: 5, stride: 2, padding: 2, outputPadding: 1 },
    { deconv: 32, kernel: 5, stride: 1, padding: 2 },
    { deconv: 32, kernel: 5, stride: 2, padding: 2, outputPadding: 1 },
    { deconv: 32, kernel: 5, stride: 1, padding: 2 },
  ],
  activation: 'leaky_relu',
  activationAlpha: 0.2,
  likelihood: 'bernoulli',
}) as Preset;

/** The presets by name. */
export const PRESETS = Object.freeze({ kerasIoConv, tfpConv });
export type PresetName = keyof typeof PRESETS;
