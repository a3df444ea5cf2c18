/**
 * `npm run token -- <userId> [--role admin] [--ttl 3600]`: prints a JWT the local runtime
 * accepts (HS256 with JWT_SECRET, or the development secret; iss/aud from JWT_ISSUER /
 * JWT_AUDIENCE when set). Only the token goes to stdout, so it can be captured.
 */
import { DEFAULT_TOKEN_TTL_SECONDS, mintToken } from '../local/tokens.ts';
import { commandLine } from './cli.ts';

const USAGE = `Usage: npm run token -- <userId> [--role <role>] [--ttl <seconds>]

Prints an HS256 JWT for <userId> (the "sub" claim), signed with JWT_SECRET or the
local development secret, with "iss"/"aud" from JWT_ISSUER/JWT_AUDIENCE when set.

Options:
  --role <role>     adds a "role" claim, e.g. --role admin (needed for broadcast)
  --ttl <seconds>   lifetime, default ${DEFAULT_TOKEN_TTL_SECONDS} (1 h)
  -h, --help        shows this help

Example:
  npx wscat -c "ws://localhost:8009/?token=$(npm run --silent token -- 1)"`;

async function main(): Promise<void> {
  const { values, positionals, fail } = commandLine(USAGE, {
    options: { role: { type: 'string' }, ttl: { type: 'string' } },
    maxPositionals: 1,
  });
  const [userId] = positionals;
  if (!userId?.trim()) return fail('Missing the user id.');
  const ttlSeconds = values.ttl === undefined ? DEFAULT_TOKEN_TTL_SECONDS : Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
    fail(`--ttl must be a positive integer; got "${values.ttl}".`);
  if (values.role !== undefined && !values.role.trim()) fail('--role must not be empty.');
  const token = await mintToken(userId, { role: values.role, ttlSeconds });
  process.stdout.write(`${token}\n`);
}

await main();
