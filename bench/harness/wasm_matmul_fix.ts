/**
 * The wasm backend (tfjs 4.22) runs `matMul` with `transposeA`/`transposeB`
 * 10–60× slower than on explicitly transposed operands (measured here). Backprop
 * uses the flags for every weight gradient, so stock Adam on wasm pays it.
 * `installWasmTransposeFix()` re-registers the wasm BatchMatMul and _FusedMatMul
 * kernels to transpose explicitly first: the strong baseline the benchmarks
 * compare ER against (ER's own Grams never use the flags).
 */
import * as tf from '@tensorflow/tfjs-core';

type TensorInfo = {dataId: object, shape: number[], dtype: string};
type KernelFunc = (args: {inputs: Record<string, TensorInfo>, backend: unknown,
                          attrs?: Record<string, unknown>}) => TensorInfo|TensorInfo[];

let installed = false;

/** Installs the workaround (idempotent). Call after the wasm backend is registered. */
export function installWasmTransposeFix(): void {
  if (installed) return;
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (transpose == null) throw new Error('installWasmTransposeFix: the wasm backend is not registered');
  for (const [name, aKey, bKey] of [['BatchMatMul', 'a', 'b'], ['_FusedMatMul', 'a', 'b']]) {
    const original = tf.getKernel(name, 'wasm');
    if (original == null) continue;
    const origFunc = original.kernelFunc as unknown as KernelFunc;
    const transFunc = transpose.kernelFunc as unknown as KernelFunc;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      ...original,
      kernelFunc: ((args: Parameters<KernelFunc>[0]) => {
        const attrs = args.attrs ?? {};
        if (!attrs['transposeA'] && !attrs['transposeB']) return origFunc(args);
        const temps: TensorInfo[] = [];
        const flip = (x: TensorInfo): TensorInfo => {
          const r = x.shape.length;
          const perm = Array.from({length: r}, (_, i) => i);
          [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
          const t = transFunc({inputs: {x}, backend: args.backend, attrs: {perm}}) as TensorInfo;
          temps.push(t);
          return t;
        };
        const inputs = {...args.inputs};
        if (attrs['transposeA']) inputs[aKey] = flip(inputs[aKey]);
        if (attrs['transposeB']) inputs[bKey] = flip(inputs[bKey]);
        const out = origFunc({inputs, backend: args.backend,
                              attrs: {...attrs, transposeA: false, transposeB: false}});
        // tslint:disable-next-line:no-any
        for (const t of temps) (args.backend as any).disposeData(t.dataId);
        return out;
      }) as unknown as tf.KernelFunc,
    });
  }
  installed = true;
}
