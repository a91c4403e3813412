// The same networks as ours, built from our spec JSON with tf.layers (channels last, as every
// TF.js backend wants), trained with plain SGD on softmax cross-entropy, timed after a warm-up.
'use strict';

function vgg(spec, size) {
  const layers = [];
  let first = true;
  for (const [convs, width] of spec.arch) {
    for (let i = 0; i < convs; i++) {
      const conv = { filters: width, kernelSize: 3, padding: 'same', activation: 'relu' };
      layers.push(tf.layers.conv2d(first ? { ...conv, inputShape: [size, size, 1] } : conv));
      first = false;
    }
    layers.push(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  }
  layers.push(tf.layers.flatten());
  for (let i = 0; i < 2; i++) {
    layers.push(tf.layers.dense({ units: spec.head_width, activation: 'relu' }));
    layers.push(tf.layers.dropout({ rate: spec.dropout }));
  }
  layers.push(tf.layers.dense({ units: 10 }));
  return tf.sequential({ layers });
}

function resnet(spec, size) {
  if (spec.block !== 'basic') throw new Error('the TF.js benchmark builds ResNets of basic blocks only');
  const input = tf.input({ shape: [size, size, 1] });
  let c = spec.stem_channels;
  let x = tf.layers.conv2d({ filters: c, kernelSize: 7, strides: 2, padding: 'same' }).apply(input);
  x = tf.layers.reLU().apply(tf.layers.batchNormalization().apply(x));
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x);
  spec.stages.forEach(([blocks, width], i) => {
    for (let j = 0; j < blocks; j++) {
      const strides = i > 0 && j === 0 ? 2 : 1;
      let y = tf.layers.conv2d({ filters: width, kernelSize: 3, strides, padding: 'same' }).apply(x);
      y = tf.layers.reLU().apply(tf.layers.batchNormalization().apply(y));
      y = tf.layers.conv2d({ filters: width, kernelSize: 3, padding: 'same' }).apply(y);
      y = tf.layers.batchNormalization().apply(y);
      const shortcut = strides !== 1 || c !== width
        ? tf.layers.conv2d({ filters: width, kernelSize: 1, strides }).apply(x) : x;
      x = tf.layers.reLU().apply(tf.layers.add().apply([y, shortcut]));
      c = width;
    }
  });
  x = tf.layers.globalAveragePooling2d({}).apply(x);
  return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 10 }).apply(x) });
}

// Examples per second of `steps` training steps after `warmup`, or throws with the reason.
window.benchTfjs = async function (spec, size, batch, warmup, steps, backend) {
  tf.wasm.setWasmPaths('node_modules/@tensorflow/tfjs-backend-wasm/dist/');
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} is not available here`);
  await tf.ready();
  const build = { vgg, resnet }[spec.kind];
  if (!build) throw new Error(`the TF.js benchmark has no ${spec.kind} network`);
  const model = build(spec, size);
  model.compile({
    optimizer: tf.train.sgd(0.01),
    loss: (labels, logits) => tf.losses.softmaxCrossEntropy(labels, logits),
  });
  const x = tf.randomNormal([batch, size, size, 1]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
  // trainOnBatch resolves once the loss is read back, so each step is complete when it returns.
  for (let i = 0; i < warmup; i++) await model.trainOnBatch(x, y);
  const started = performance.now();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
  const seconds = (performance.now() - started) / 1000;
  tf.dispose([x, y]);
  model.dispose();
  return { examples_per_sec: (steps * batch) / seconds, backend: `TF.js ${tf.version.tfjs} ${backend}` };
};

// GFLOP/s of `repeats` products of two `size` x `size` random matrices after one untimed product,
// timed to the read-back of the last (the backend runs them in order), as our matmul row is.
window.benchMatmul = async function (size, repeats, backend) {
  tf.wasm.setWasmPaths('node_modules/@tensorflow/tfjs-backend-wasm/dist/');
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} is not available here`);
  await tf.ready();
  const a = tf.randomUniform([size, size], -1, 1);
  const b = tf.randomUniform([size, size], -1, 1);
  const corner = async (product) => {
    const value = product.slice([0, 0], [1, 1]);
    await value.data();
    tf.dispose([value, product]);
  };
  await corner(tf.matMul(a, b));
  const started = performance.now();
  const products = [];
  for (let i = 0; i < repeats; i++) products.push(tf.matMul(a, b));
  await corner(products.pop());
  const seconds = (performance.now() - started) / 1000;
  tf.dispose([a, b, ...products]);
  return { gflops: (2 * size ** 3 * repeats) / seconds / 1e9, backend: `TF.js ${tf.version.tfjs} ${backend}` };
};
