// Writes the site's vendor/ scripts, bundled and minified by esbuild (from frontend/node_modules):
//   vendor/echarts-<version>/echarts.min.js  ECharts with only what our charts use
//                                           (frontend/echarts-entry.js), an IIFE setting the
//                                           global `echarts` that charming calls
//   vendor/novnc-<version>/core/rfb.js       noVNC's RFB class as one ES module (export default)
// with the packages' licence files beside them, and prints each file's size (raw and brotli)
// against what copying the packages' own files would serve.
// Usage: node .ci/vendor.mjs <site dir>
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const frontend = path.join(root, 'frontend');
const modules = path.join(frontend, 'node_modules');
const require = createRequire(path.join(frontend, 'package.json'));
const esbuild = require('esbuild');

const site = process.argv[2];
if (!site || process.argv.length > 3) {
  console.error('usage: node .ci/vendor.mjs <site dir>');
  process.exit(2);
}

const version = (pkg) =>
  JSON.parse(fs.readFileSync(path.join(modules, pkg, 'package.json'), 'utf8')).version;
const brotli = (bytes) =>
  zlib.brotliCompressSync(bytes, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  }).length;
// The first block comment of a file: the licence header its package puts on every file.
const header = (file) => {
  const m = fs.readFileSync(file, 'utf8').match(/\/\*[\s\S]*?\*\//);
  if (!m) throw new Error(`no header comment in ${file}`);
  return m[0];
};
const copy = (from, to) => {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
};
const jsFiles = (dir) =>
  fs
    .readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.js'))
    .map((f) => path.join(dir, f));

async function bundle(outfile, options) {
  const result = await esbuild.build({
    absWorkingDir: frontend,
    bundle: true,
    minify: true,
    write: false,
    logLevel: 'warning',
    // Minified code may use syntax up to this (no newer, e.g. no `||=` from the minifier).
    target: 'es2020',
    define: { 'process.env.NODE_ENV': '"production"' },
    // Comments marked /*! or @license (tslib's, zrender's) go to the end of the file; the
    // packages' plain /* licence headers are dropped by the minifier, so `banner` puts one back.
    legalComments: 'eof',
    ...options,
  });
  if (result.outputFiles.length !== 1) throw new Error(`${outfile}: expected one output file`);
  const bytes = result.outputFiles[0].contents;
  fs.mkdirSync(path.dirname(outfile), { recursive: true });
  fs.writeFileSync(outfile, bytes);
  return bytes;
}

const rows = [];
const row = (name, files, after) => {
  const before = files.map((f) => fs.readFileSync(f));
  rows.push({
    name,
    files: before.length,
    raw: [before.reduce((n, b) => n + b.length, 0), after.length],
    br: [before.reduce((n, b) => n + brotli(b), 0), brotli(after)],
  });
};

// ECharts: the IIFE keeps the name and path of the package's dist/echarts.min.js
// (app/src/assets.rs ECHARTS_JS).
{
  const pkg = path.join(modules, 'echarts');
  const dir = path.join(site, 'vendor', `echarts-${version('echarts')}`);
  const out = path.join(dir, 'echarts.min.js');
  const bytes = await bundle(out, {
    entryPoints: [path.join(frontend, 'echarts-entry.js')],
    format: 'iife',
    globalName: 'echarts',
    banner: {
      js: `/*! Apache ECharts ${version('echarts')}, custom build: line chart, title, tooltip, legend, grid, canvas renderer */\n${header(path.join(pkg, 'core.js'))}`,
    },
  });
  for (const f of ['LICENSE', 'NOTICE']) copy(path.join(pkg, f), path.join(dir, f));
  row('echarts.min.js', [path.join(pkg, 'dist', 'echarts.min.js')], bytes);
}

// noVNC: one ES module at the path of its entry (app/src/assets.rs NOVNC_RFB_JS), imported
// with import() and used through its default export (the RFB class). noVNC loads nothing
// else at run time (no workers, wasm, import() or URLs relative to import.meta.url; H.264
// goes through the browser's WebCodecs), so the bundle is all it needs. It has a top-level
// await (core/util/browser.js probes WebCodecs), hence ES2022.
{
  const pkg = path.join(modules, '@novnc', 'novnc');
  const dir = path.join(site, 'vendor', `novnc-${version('@novnc/novnc')}`);
  const out = path.join(dir, 'core', 'rfb.js');
  const bytes = await bundle(out, {
    entryPoints: [path.join(pkg, 'core', 'rfb.js')],
    format: 'esm',
    target: 'es2022',
    banner: {
      js: `/*! noVNC ${version('@novnc/novnc')} (core/rfb.js and its imports, bundled): MPL 2.0; includes pako (MIT) and DES code under BSD-style licences. See LICENSE.txt. */\n${header(path.join(pkg, 'core', 'rfb.js'))}`,
    },
  });
  // LICENSE.txt names the licence texts by these paths.
  for (const f of [
    'LICENSE.txt',
    'AUTHORS',
    'docs/LICENSE.MPL-2.0',
    'docs/LICENSE.BSD-2-Clause',
    'docs/LICENSE.BSD-3-Clause',
    'vendor/pako/LICENSE',
  ]) {
    if (fs.existsSync(path.join(pkg, f))) copy(path.join(pkg, f), path.join(dir, f));
  }
  row('novnc core/rfb.js', [...jsFiles(path.join(pkg, 'core')), ...jsFiles(path.join(pkg, 'vendor'))], bytes);
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const pct = ([a, b]) => `${(((b - a) / a) * 100).toFixed(0)}%`;
console.log('vendor/ scripts (before: the packages\' own files, each brotli\'d on its own; after: the bundle)');
console.log(
  ['file', 'raw before', 'raw after', 'change', 'brotli before', 'brotli after', 'change']
    .map((h, i) => (i ? h.padStart(15) : h.padEnd(34)))
    .join(''),
);
for (const r of rows) {
  console.log(
    [
      `${r.name} (${r.files} file${r.files > 1 ? 's' : ''} → 1)`.padEnd(34),
      kib(r.raw[0]).padStart(15),
      kib(r.raw[1]).padStart(15),
      pct(r.raw).padStart(15),
      kib(r.br[0]).padStart(15),
      kib(r.br[1]).padStart(15),
      pct(r.br).padStart(15),
    ].join(''),
  );
}
