// Checks that the nginx recipe README.md shows (its one ```nginx block) is, byte for byte,
// end2end/nginx/cecyber.conf, the file tests/proxy.spec.ts runs nginx with.
// Run from anywhere: node end2end/nginx/check-readme.mjs   (exit 1 with the first difference)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const readme = readFileSync(here('../../README.md'), 'utf8');
const conf = readFileSync(here('./cecyber.conf'), 'utf8');
const fail = (message) => {
  console.error(`README.md's nginx recipe: ${message}`);
  process.exit(1);
};

const blocks = [...readme.matchAll(/^```nginx\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
if (blocks.length !== 1) fail(`${blocks.length} \`\`\`nginx blocks found, 1 expected.`);
const [shown] = blocks;
if (shown !== conf) {
  const a = shown.split('\n');
  const b = conf.split('\n');
  let line = 0;
  while (line < Math.max(a.length, b.length) && a[line] === b[line]) line += 1;
  fail(
    `it differs from end2end/nginx/cecyber.conf (the file the proxy tests use) at line ${line + 1} of the block:\n` +
      `  README.md:    ${JSON.stringify(a[line] ?? '(end)')}\n` +
      `  cecyber.conf: ${JSON.stringify(b[line] ?? '(end)')}\n` +
      'Copy the file into the block (or the block into the file, and run the proxy tests).',
  );
}
console.log(`README.md's nginx recipe is end2end/nginx/cecyber.conf (${conf.length} bytes).`);
