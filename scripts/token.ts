/**
 * `npm run token -- <userId> [--role admin] [--ttl 3600]`: prints a JWT the local runtime
 * accepts (HS256 with JWT_SECRET, or the development secret; iss/aud from JWT_ISSUER /
 * JWT_AUDIENCE when set). Only the token goes to stdout, so it can be captured.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_TOKEN_TTL_SECONDS, mintToken } from '../local/tokens.ts';

const USAGE = `Usage: npm run token -- <userId> [--role <role>] [--ttl <seconds>]

Prints an HS256 JWT for <userId> (the "sub" claim), signed with JWT_SECRET or the
local development secret, with "iss"/"aud" from JWT_ISSUER/JWT_AUDIENCE when set.

Options:
  --role <role>     adds a "role" claim, e.g. --role admin (needed for broadcast)
  --ttl <seconds>   lifetime, default ${DEFAULT_TOKEN_TTL_SECONDS}
  -h, --help        shows this help

Example:
  npx wscat -c "ws://localhost:8009/?token=$(npm run --silent token -- 1)"`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const [userId, ...extra] = positionals;
  if (!userId?.trim()) fail('Missing the user id.');
  if (extra.length > 0) fail(`Unexpected arguments: ${extra.join(' ')}`);
  const ttlSeconds = values.ttl === undefined ? DEFAULT_TOKEN_TTL_SECONDS : Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
    fail(`--ttl must be a positive integer; got "${values.ttl}".`);
  if (values.role !== undefined && !values.role.trim()) fail('--role must not be empty.');
  const token = await mintToken(userId, { role: values.role, ttlSeconds });
  process.stdout.write(`${token}\n`);
}

function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      ttl: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

await main();
