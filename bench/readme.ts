/**
 * `npm run bench:readme`: copies each bench/results/<suite>.md into README.md
 * between `<!-- bench:<suite> -->` and `<!-- /bench:<suite> -->`.
 */
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const readmePath = path.join(root, 'README.md');
let readme = fs.readFileSync(readmePath, 'utf8');
for (const file of fs.readdirSync(path.join(root, 'bench', 'results')).filter(f => f.endsWith('.md'))) {
  const name = file.replace(/\.md$/, '');
  const open = `<!-- bench:${name} -->`, close = `<!-- /bench:${name} -->`;
  const a = readme.indexOf(open), b = readme.indexOf(close);
  if (a < 0 || b < a) {
    console.log(`README has no ${open} … ${close} block; skipped ${file}`);
    continue;
  }
  const body = fs.readFileSync(path.join(root, 'bench', 'results', file), 'utf8').trim();
  readme = readme.slice(0, a + open.length) + '\n' + body + '\n' + readme.slice(b);
  console.log(`README: ${name} updated`);
}
fs.writeFileSync(readmePath, readme);
