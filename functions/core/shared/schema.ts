/**
 * How the command schemas are written: with `zod/mini`, zod's functional API over the same
 * core as `zod` (same parsing, same issues, the same English messages once `schema` has set
 * the locale), about a quarter of its size in a bundle and much cheaper to build, which
 * every cold start of a Lambda function that validates commands pays for.
 *
 * `zod` (classic) method chains translate one call for one call, so that each schema keeps
 * the structure the JSON Schema documents are generated from (`npm run specs`):
 * `a.refine(f, m)` is `a.check(z.refine(f, m))`, `a.transform(f)` is
 * `z.pipe(a, z.transform(f))`, `a.min(n)` / `a.max(n)` are `a.check(z.minLength(n))` /
 * `a.check(z.maxLength(n))` for strings and arrays and `a.check(z.gte(n))` /
 * `a.check(z.lte(n))` for numbers, `a.int()` is `a.check(z.int())`, `a.optional()` is
 * `z.optional(a)`, `a.nullish()` is `z.optional(z.nullable(a))`, `a.default(v)` is
 * `z._default(a, v)`, `a.omit(m)` is `z.omit(a, m)`, `a.meta(m)` is `meta(a, m)`.
 */
import { en } from 'zod/locales';
import * as z from 'zod/mini';

/**
 * Builds a schema at import. Call it marked `@__PURE__`
 * (`export const x = /* @__PURE__ *\/ schema(() => z.object(…))`): esbuild then leaves a
 * schema that no code of a bundle uses out of it, and zod too when it uses none, so each
 * Lambda bundle parses and builds only the schemas of its own handler.
 */
export function schema<T>(build: () => T): T {
  // What `zod` does when it builds its first schema: English messages unless a locale is set.
  if (!z.config().localeError) z.config(en());
  return build();
}

/** `.meta()` of `zod`: a copy of `base` carrying `metadata` (documentation only: parsing ignores it). */
export function meta<T extends z.ZodMiniType>(base: T, metadata: z.core.GlobalMeta): T {
  const copy = base.clone();
  z.globalRegistry.add(copy as z.ZodMiniType, metadata);
  return copy;
}
