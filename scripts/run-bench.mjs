#!/usr/bin/env node
// `npm run bench -- NAME...` runs bench/NAME.ts (all benchmarks when no name is given).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const all = readdirSync('bench')
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();
const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
// Posthorn runs from dist/ as in production (bench/peers/posthorn.ts): compile the current
// sources first (incremental, seconds). `--source` runs them through tsx instead.
if (!flags.includes('--source')) {
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], {
    stdio: 'inherit',
  });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}
for (const name of names.length ? names : all) {
  if (!all.includes(name)) {
    console.error(`unknown benchmark '${name}' (have: ${all.join(', ')})`);
    process.exit(2);
  }
  console.log(`\n### bench ${name}`);
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--expose-gc', `bench/${name}.bench.ts`, ...flags],
    {
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) process.exit(r.status ?? 1);
}
