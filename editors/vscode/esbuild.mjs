// Bundles the extension into dist/extension.js (vscode-languageclient included; `vscode` is the
// host's). With --test, builds the pure model for `node --test` into dist-test/model.cjs instead.
import * as esbuild from 'esbuild';

const test = process.argv.includes('--test');
await esbuild.build({
  entryPoints: [test ? 'src/model.ts' : 'src/extension.ts'],
  outfile: test ? 'dist-test/model.cjs' : 'dist/extension.js',
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  external: ['vscode'],
  sourcemap: !test,
  minify: !test,
  logLevel: 'warning',
});
