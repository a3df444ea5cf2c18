/**
 * Writes docs/asyncapi.json, docs/openapi.json and docs/events.schema.json from the code (see scripts/specs/generate.ts).
 *
 *   npm run specs              # write the files
 *   npm run specs -- --check   # exit 1 when a checked-in file differs from what would be written
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLine } from './cli.ts';
import { generateSpecs } from './specs/generate.ts';

const USAGE = `Usage: npm run specs -- [--check]

Writes docs/asyncapi.json and docs/openapi.json from the code (command schemas, frames,
HTTP routes). Run it after changing a command schema or an HTTP route.

Options:
  --check      write nothing; exit 1 when a checked-in file differs from what would be written
  -h, --help   shows this help`;

const { values } = commandLine(USAGE, { options: { check: { type: 'boolean' } } });
const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const check = values.check === true;
let stale = 0;
for (const [path, content] of Object.entries(generateSpecs())) {
  const file = resolve(root, path);
  const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (current === content) {
    console.log(`${path}: up to date`);
  } else if (check) {
    console.error(`${path}: out of date; run \`npm run specs\``);
    stale++;
  } else {
    writeFileSync(file, content);
    console.log(`${path}: written`);
  }
}
if (stale > 0) process.exit(1);
