/**
 * Backend choice for the Node CLI and benchmarks: `auto` takes tfjs-node-gpu
 * or tfjs-node when the user installed one (optional peers, never required),
 * else wasm (the fastest CPU backend measured here), else cpu.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Backends the CLI accepts. */
export type BackendChoice = 'auto'|'wasm'|'cpu'|'tensorflow';

const TF_NODE_HELP =
    '--backend tensorflow needs @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu ' +
    '(CUDA): install one with `npm install @tensorflow/tfjs-node` (its install script ' +
    'downloads libtensorflow, so it needs internet access), or use --backend wasm';

function tryRequire(name: string): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    require(name);
    return true;
  } catch (e) {
    if ((e as {code?: string}).code === 'MODULE_NOT_FOUND' &&
        String((e as Error).message).includes(name)) {
      return false;
    }
    throw e;
  }
}

/** Loads the tfjs-node bindings if installed; returns which, or null. */
export function loadTensorflowBinding(): string|null {
  for (const name of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    if (tryRequire(name)) return name;
  }
  return null;
}

/** Selects and initialises a backend; returns its tfjs name. */
export async function useBackend(choice: BackendChoice): Promise<string> {
  let name: string;
  switch (choice) {
    case 'tensorflow':
      if (loadTensorflowBinding() == null) throw new Error(TF_NODE_HELP);
      name = 'tensorflow';
      break;
    case 'wasm':
      if (!tryRequire('@tensorflow/tfjs-backend-wasm')) {
        throw new Error('--backend wasm needs @tensorflow/tfjs-backend-wasm: ' +
                        'npm install @tensorflow/tfjs-backend-wasm');
      }
      name = 'wasm';
      break;
    case 'cpu':
      name = 'cpu';
      break;
    case 'auto':
      if (loadTensorflowBinding() != null) name = 'tensorflow';
      else if (tryRequire('@tensorflow/tfjs-backend-wasm')) name = 'wasm';
      else name = 'cpu';
      break;
    default:
      throw new Error(`unknown backend '${choice as string}': use auto, wasm, cpu or tensorflow`);
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
  return tf.getBackend();
}
