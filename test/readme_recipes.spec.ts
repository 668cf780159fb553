/**
 * The README's three quick-start recipes, run as written (Node): each
 * ```ts block after "**1.", "**2." and "**3." is run with its imports bound
 * to this checkout's tfjs and tfjs-er. Recipe 1 prints its accuracies; the
 * others must run without error, and every recipe must leave the model trained.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import {transformSync} from 'esbuild';
import * as tfER from '../src/index';
import {describeBackends} from './helpers/backends';

const README = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

/** The first ```ts block after `marker`. */
function recipe(marker: string): string {
  const at = README.indexOf(marker);
  if (at < 0) throw new Error(`README has no recipe '${marker}'`);
  const m = /```ts\n([\s\S]*?)```/.exec(README.slice(at));
  if (m == null) throw new Error(`README recipe '${marker}' has no ts block`);
  return m[1];
}

/** Runs a recipe: its `import` lines become bindings to the modules here. */
async function run(code: string): Promise<string[]> {
  const printed: string[] = [];
  const ts = code.replace(/^import \* as tf from '@tensorflow\/tfjs';$/m, '')
      .replace(/^import \{([^}]+)\} from 'tfjs-er';$/m, 'const {$1} = tfER;');
  if (/^import /m.test(ts)) throw new Error(`a recipe imports something else:\n${ts}`);
  // TypeScript to JavaScript; top-level await stays (the body runs in an async function)
  const body = transformSync(ts, {loader: 'ts', format: 'esm', target: 'es2022'}).code;
  const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;
  const log = (...a: unknown[]) => printed.push(a.map(String).join(' '));
  const f = new AsyncFunction('tf', 'tfER', 'console', body);
  await f(tf, tfER, {...console, log});
  return printed;
}

describeBackends('README recipes', () => {
  it('1. er() + erLayers: trains (accuracy after 3 updates above 0.8)', async () => {
    const out = await run(recipe('**1.'));
    const accs = out.join(',').split(',').map(Number);
    expect(accs.length).toBe(3);
    expect(accs[2]).toBeGreaterThan(0.8);
  });

  it('2. attachER on a stock model: runs', async () => {
    await run(recipe('**2.'));
  });

  it('3. erHead + extendERHead: prints a 4×3 prediction', async () => {
    const printed: string[] = [];
    const spy = spyOn(tf.Tensor.prototype, 'print').and.callFake(function(this: tf.Tensor) {
      printed.push(this.shape.join('x'));
    });
    await run(recipe('**3.'));
    expect(spy).toHaveBeenCalled();
    expect(printed).toEqual(['4x3']);
  });
});
