/** Explicit patches (im2col) in plain JS, the oracle of the conv specs. */
import {ConvGeometry} from '../../src/engine/index';

/** Explicit float64 patches of one NHWC image batch, TensorFlow SAME/VALID padding, row-major positions. */
export function explicitPatches(x: number[][][][], g: ConvGeometry): number[][] {
  const [kh, kw] = g.kernelSize, [sh, sw] = g.strides;
  const H = x[0].length, W = x[0][0].length, C = x[0][0][0].length;
  let ho: number, wo: number, top = 0, left = 0;
  if (g.padding === 'valid') {
    ho = Math.floor((H - kh) / sh) + 1;
    wo = Math.floor((W - kw) / sw) + 1;
  } else {
    ho = Math.ceil(H / sh);
    wo = Math.ceil(W / sw);
    top = Math.floor(Math.max(0, (ho - 1) * sh + kh - H) / 2);
    left = Math.floor(Math.max(0, (wo - 1) * sw + kw - W) / 2);
  }
  const rows: number[][] = [];
  for (const img of x) {
    for (let r = 0; r < ho; r++) {
      for (let c = 0; c < wo; c++) {
        const row: number[] = [];
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const y = r * sh + i - top, xx = c * sw + j - left;
            for (let ch = 0; ch < C; ch++) row.push(y >= 0 && y < H && xx >= 0 && xx < W ? img[y][xx][ch] : 0);
          }
        }
        rows.push(row);
      }
    }
  }
  return rows;
}

