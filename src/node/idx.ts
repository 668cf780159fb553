/**
 * IDX files (the MNIST / Fashion-MNIST format): magic number, dimensions,
 * then unsigned bytes. Validated strictly: a bad magic number, a truncated
 * file or a size mismatch is an error naming the file.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';

/** A parsed IDX file of unsigned bytes. */
export interface IdxData {
  /** Dimensions from the header, e.g. [60000, 28, 28]. */
  shape: number[];
  /** The payload. */
  data: Uint8Array;
}

/** Parses an IDX buffer (ubyte only, as MNIST uses). */
export function parseIdx(buf: Uint8Array, name = 'IDX file'): IdxData {
  if (buf.length < 4) throw new Error(`${name}: too short to be an IDX file (${buf.length} bytes)`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new Error(`${name}: bad magic number (first bytes ${buf[0]} ${buf[1]}); not an IDX file`);
  }
  if (buf[2] !== 0x08) {
    throw new Error(`${name}: element type 0x${buf[2].toString(16)} is not unsigned byte (0x08)`);
  }
  const ndim = buf[3];
  if (ndim < 1 || ndim > 4) throw new Error(`${name}: ${ndim} dimensions; expected 1 to 4`);
  const header = 4 + 4 * ndim;
  if (buf.length < header) throw new Error(`${name}: truncated header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const size = shape.reduce((a, b) => a * b, 1);
  if (buf.length !== header + size) {
    throw new Error(`${name}: header says ${size} bytes of data [${shape}] but the file has ` +
                    `${buf.length - header}; the file is truncated or corrupt`);
  }
  return {shape, data: buf.subarray(header)};
}

/** Reads and parses an IDX file (optionally gzipped: `.gz`). */
export function readIdx(file: string): IdxData {
  let buf: Uint8Array = fs.readFileSync(file);
  if (file.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  return parseIdx(buf, file);
}
