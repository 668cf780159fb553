/**
 * The committed reference fixtures (test/fixtures, see its README): read from
 * disk in Node, fetched from karma's static server in the browser.
 */
const isNode = typeof window === 'undefined';

/** Text of a file in test/fixtures. */
export async function readFixture(name: string): Promise<string> {
  if (isNode) {
    const fs = await import('fs');
    const path = await import('path');
    return fs.readFileSync(path.resolve(__dirname, '..', 'fixtures', name), 'utf8');
  }
  const r = await fetch(`/base/test/fixtures/${name}`);
  if (!r.ok) throw new Error(`fixture ${name}: HTTP ${r.status}`);
  return r.text();
}

/** A CSV with a header row, as numeric columns. */
export async function readCsv(name: string): Promise<{header: string[], rows: number[][]}> {
  const lines = (await readFixture(name)).trim().split(/\r?\n/);
  const header = lines[0].split(',');
  const rows = lines.slice(1).map(l => l.split(',').map(Number));
  return {header, rows};
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function readReferenceJson(): Promise<any> {
  return JSON.parse(await readFixture('reference.json'));
}
