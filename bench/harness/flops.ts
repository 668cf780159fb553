/**
 * Counts the floating-point operations of the products a run asks the tfjs
 * engine for (matMul, conv2d, depthwise conv2d: 2 per multiply-add, from
 * the kernels' shapes), so a benchmark can state an effective GFLOP/s.
 * Elementwise ops are not counted, nor fused products: tfjs-layers' predict
 * (the evaluation) runs fused kernels, ER's passes plain ones. In-process
 * only: worker threads have their own engines.
 */
import * as tf from '@tensorflow/tfjs';

/** Starts counting; returns a function that stops and gives the total. */
export function countProductFlops(): () => number {
  const engine = tf.engine() as unknown as {runKernel: (name: string, inputs: tf.NamedTensorMap, attrs: unknown) => tf.Tensor|tf.Tensor[]};
  const original = engine.runKernel;
  let flops = 0;
  engine.runKernel = function(name, inputs, attrs) {
    const out = original.call(this, name, inputs, attrs);
    const result = Array.isArray(out) ? out[0] : out;
    switch (name) {
      case 'BatchMatMul': {
        const a = inputs.a.shape, t = (attrs as {transposeA?: boolean}).transposeA;
        const inner = t ? a[a.length - 2] : a[a.length - 1];
        flops += 2 * result.size * inner;
        break;
      }
      case 'Conv2D': {
        const f = inputs.filter.shape;  // [kh, kw, cin, cout]
        flops += 2 * result.size * f[0]! * f[1]! * f[2]!;
        break;
      }
      case 'DepthwiseConv2dNative': {
        const f = inputs.filter.shape;  // [kh, kw, cin, multiplier]
        flops += 2 * result.size * f[0]! * f[1]!;
        break;
      }
    }
    return out;
  };
  return () => {
    engine.runKernel = original;
    return flops;
  };
}
