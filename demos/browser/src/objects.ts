/**
 * The demo's "teach objects" card: an ER head (erHead) on the frozen
 * MobileNetV2 that the nsfwjs package ships (ImageNet-pretrained; its files
 * are copied into vendor/ by build.mjs, so nothing is downloaded). Examples
 * come from image files, or webcam frames where there is a camera; one click
 * solves the head; an object added later extends it (extendERHead) without
 * the old examples.
 */
import * as tf from '@tensorflow/tfjs';
import {erHead, extendERHead} from 'tfjs-er';

const SIZE = 224;
const LAYER = 'block_11_expand_relu';
const SLOTS = [0, 1, 2];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export const objects = {
  /** nsfwjs's MobileNetV2 (the head reads one of its layers). */
  backbone: null as tf.LayersModel|null,
  /** The backbone with the ER head on top. */
  head: null as tf.LayersModel|null,
  /** Preprocessed images [1, 224, 224, 3] and their object slots. */
  examples: [] as tf.Tensor4D[], labels: [] as number[], taught: 0,
  /** The last classified files: name → predicted object. */
  predictions: [] as Array<{file: string, label: string, p: number}>,
  lastSeconds: 0, busy: false, error: null as string|null,
};

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
}

/**
 * nsfwjs's MobileNetV2 files (UMD scripts defining `model` and
 * `group1_shard1of1`) as a layers model. The head reads its
 * 'block_11_expand_relu' feature map, global-average pooled (576 features):
 * the layer whose features classified CIFAR-10 best (docs/benchmarks.md,
 * transfer-probe); the later layers are tuned to nsfwjs's task.
 */
async function loadBackbone(): Promise<tf.LayersModel> {
  if (objects.backbone) return objects.backbone;
  const g = window as unknown as Record<string, unknown>;
  await loadScript('vendor/mobilenet_v2/model.min.js');
  await loadScript('vendor/mobilenet_v2/group1-shard1of1.min.js');
  const json = g.model as {modelTopology: tf.io.ModelArtifacts['modelTopology'],
                           weightsManifest: Array<{weights: tf.io.WeightsManifestEntry[]}>};
  const bin = atob(g.group1_shard1of1 as string);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  objects.backbone = await tf.loadLayersModel(tf.io.fromMemory({modelTopology: json.modelTopology,
                                                                weightSpecs: json.weightsManifest[0].weights,
                                                                weightData: bytes.buffer}));
  return objects.backbone;
}

/** An image (file or video frame) as the backbone's input: 224×224, [0, 1] (as nsfwjs feeds it). */
function toInput(source: ImageBitmap|HTMLVideoElement): tf.Tensor4D {
  return tf.tidy(() => {
    const px = tf.browser.fromPixels(source);
    return tf.div(tf.image.resizeBilinear(px, [SIZE, SIZE], true), 255).expandDims(0) as tf.Tensor4D;
  });
}

function names(): string[] {
  return SLOTS.map(i => $<HTMLInputElement>(`object-${i}`).value.trim() || `object ${i + 1}`);
}

function render() {
  SLOTS.forEach(i => $(`object-count-${i}`).textContent = `${objects.labels.filter(l => l === i).length}`);
  const pending = objects.examples.length - objects.taught;
  $<HTMLButtonElement>('object-teach').disabled = objects.busy || pending === 0 || new Set(objects.labels).size < 2;
}

function status(text: string) {
  $('object-status').textContent = text;
}

async function addImages(slot: number, files: FileList|null) {
  if (!files?.length) return;
  status('loading MobileNetV2…');
  await loadBackbone();
  for (const f of Array.from(files)) {
    const bitmap = await createImageBitmap(f);
    objects.examples.push(toInput(bitmap));
    objects.labels.push(slot);
    bitmap.close();
  }
  status(`added ${files.length} image(s) of "${names()[slot]}"`);
  render();
}

/**
 * One solve: a new head on the backbone the first time; when a new object
 * appears the head is extended; then the examples it has not seen are fitted.
 */
async function teach() {
  const backbone = await loadBackbone();
  const classes = Math.max(...objects.labels) + 1;
  const labels = names().slice(0, classes);
  if (objects.head == null) {
    objects.head = erHead(backbone, {classes, labels, layer: LAYER, pooling: 'average', name: 'objects_head'});
  } else if (classes > (objects.head.outputs[0].shape[1] as number)) {
    const old = objects.head;
    objects.head = extendERHead(old, {classes, labels});
    old.optimizer?.dispose();
  }
  const fresh = objects.examples.slice(objects.taught), freshLabels = objects.labels.slice(objects.taught);
  const x = tf.concat(fresh), y = tf.tidy(() => tf.oneHot(tf.tensor1d(freshLabels, 'int32'), classes).toFloat());
  const t0 = performance.now();
  try {
    await objects.head.fit(x, y, {epochs: 1, batchSize: 32, verbose: 0});
  } finally {
    tf.dispose([x, y]);
  }
  objects.lastSeconds = (performance.now() - t0) / 1000;
  objects.taught = objects.examples.length;
  status(`taught ${fresh.length} new image(s) in ${objects.lastSeconds.toFixed(1)} s (${objects.taught} in all, ` +
         `${classes} objects); now classify an image`);
}

async function classify(files: FileList|null) {
  if (!files?.length || objects.head == null) {
    status('teach at least two objects first');
    return;
  }
  const labels = names();
  objects.predictions = [];
  for (const f of Array.from(files)) {
    const bitmap = await createImageBitmap(f);
    const x = toInput(bitmap);
    bitmap.close();
    const p = tf.tidy(() => (objects.head!.predict(x) as tf.Tensor).dataSync());
    x.dispose();
    const best = p.indexOf(Math.max(...p));
    objects.predictions.push({file: f.name, label: labels[best], p: p[best]});
  }
  $('object-predictions').innerHTML = objects.predictions.map(r =>
      `<div class="object-prediction">${r.file}: <b>${r.label}</b> (${(100 * r.p).toFixed(0)} %)</div>`).join('');
}

/** Webcam frames as examples, where the browser has a camera. */
async function setupWebcam() {
  const button = $<HTMLButtonElement>('object-webcam');
  if (!navigator.mediaDevices?.getUserMedia) {
    button.disabled = true;
    button.textContent = 'no webcam here';
    return;
  }
  const video = $<HTMLVideoElement>('object-video');
  button.addEventListener('click', async () => {
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({video: {width: 224, height: 224}});
      video.hidden = false;
      await video.play();
      SLOTS.forEach(i => $(`object-cam-${i}`).hidden = false);
    } catch (e) {
      status(`no webcam: ${e}`);
    }
  });
  SLOTS.forEach(i => $(`object-cam-${i}`).addEventListener('click', async () => {
    await loadBackbone();
    objects.examples.push(toInput(video));
    objects.labels.push(i);
    status(`added a webcam frame of "${names()[i]}"`);
    render();
  }));
}

/** Runs `task` with the card marked busy; errors are shown and kept for the tests. */
function guarded(task: () => Promise<void>) {
  return async () => {
    objects.busy = true;
    render();
    try {
      await task();
    } catch (e) {
      objects.error = String(e);
      console.error(e instanceof Error ? e.stack : e);
      status(`error: ${e}`);
    } finally {
      objects.busy = false;
      render();
    }
  };
}

export function setupObjects() {
  SLOTS.forEach(i => {
    const input = $<HTMLInputElement>(`object-files-${i}`);
    input.addEventListener('change', guarded(() => addImages(i, input.files).finally(() => { input.value = ''; })));
  });
  $('object-teach').addEventListener('click', guarded(teach));
  const test = $<HTMLInputElement>('object-test');
  test.addEventListener('change', guarded(() => classify(test.files).finally(() => { test.value = ''; })));
  setupWebcam().catch(() => {});
  render();
}
