/**
 * The word list shipped with the project: a short, deliberately modest placeholder of
 * clearly abusive terms. Deployments extend it with `BLOCKED_WORDS` or replace it with
 * `BLOCKED_WORDS_REPLACE=true` (see content-filter.ts for how entries are matched).
 *
 * Entry syntax: words or phrases, matched as whole words after normalization; a trailing
 * `*` also matches longer words that start with the entry (`abc*` blocks `abcdef`), a
 * leading `*` longer words that end with it.
 */
export const SHIPPED_BLOCKED_WORDS: readonly string[] = [
  'fuck*',
  'motherfuck*',
  'cunt',
  'cunts',
  'asshole',
  'assholes',
  'dickhead',
  'shithead',
  'bitch',
  'bitches',
  'whore',
  'kill yourself',
  'kys',
];
