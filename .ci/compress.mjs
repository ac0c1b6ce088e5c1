// Writes FILE.br (brotli, best) and FILE.gz (gzip, best) beside every compressible file under
// the directory given, for the server to send as they are. Prints the totals.
// Usage: node .ci/compress.mjs DIR
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { join, extname } from 'node:path';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const COMPRESSIBLE = new Set(['.js', '.mjs', '.wasm', '.css', '.svg', '.json', '.html', '.txt', '.map']);
// Below this, the headers cost more than compression saves.
const MIN_BYTES = 512;

const root = process.argv[2];
if (!root) { console.error('usage: node .ci/compress.mjs DIR'); process.exit(2); }

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (COMPRESSIBLE.has(extname(entry.name))) yield path;
  }
}

let raw = 0, br = 0, gz = 0, count = 0;
for (const path of files(root)) {
  const data = readFileSync(path);
  if (data.length < MIN_BYTES) continue;
  const brotli = brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
  const gzip = gzipSync(data, { level: 9 });
  writeFileSync(path + '.br', brotli);
  writeFileSync(path + '.gz', gzip);
  raw += data.length; br += brotli.length; gz += gzip.length; count += 1;
}
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
console.log(`${count} files: ${kib(raw)} → brotli ${kib(br)}, gzip ${kib(gz)}`);
