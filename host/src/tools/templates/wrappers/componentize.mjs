// Run by `switchboard plugin build` for a JavaScript plugin, from the
// toolchain's folder (where componentize-js resolves), with the project as
// the working folder: node componentize.mjs SOURCE WIT_DIR OUT.
//
// The engine's clock, randomness, stdio and fetch are left out: a plugin
// reaches the outside through the host's imports alone.

import { writeFile } from 'node:fs/promises';

import { componentize } from '@bytecodealliance/componentize-js';

const [sourcePath, witPath, out] = process.argv.slice(2);
try {
  const { component } = await componentize({
    sourcePath,
    witPath,
    worldName: 'plugin',
    disableFeatures: ['random', 'stdio', 'clocks', 'http', 'fetch-event'],
  });
  await writeFile(out, component);
} catch (error) {
  // A generated wrapper's own message says what to fix; say it alone.
  const text = String(error?.message ?? error);
  const ours = text.split('\n').find((line) => line.includes('[switchboard] '));
  console.error(ours ?? text);
  process.exit(1);
}
