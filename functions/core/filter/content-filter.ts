/**
 * The content filter: a word list matched in one pass (Aho–Corasick) over normalized
 * text, and an optional external moderation service behind a timeout and a fail mode.
 *
 * Normalization (applied to the text and to every list entry alike):
 * 1. NFKD, so full-width and other compatibility forms become their plain letters
 *    (`ｂａｄ` → `bad`, `ﬁ` → `fi`), then combining marks are dropped (`bäd` → `bad`);
 * 2. invisible characters are dropped: format characters (`\p{Cf}`: zero-width space,
 *    ZWNJ, ZWJ, soft hyphen, word joiner, BOM, bidi controls) and a few invisible letters
 *    (Hangul fillers, braille blank);
 * 3. lower case;
 * 4. the text is split into words (runs of letters and digits); everything else is a
 *    separator. Words are joined by one space, except that **a run of single-character
 *    words separated by at most 3 separator characters is joined into one word**:
 *    `b.a.d`, `b a d`, `b - a - d`, `b_a_d` all become `bad`.
 *
 * Entries match whole words (a phrase across word boundaries) of the normalized text, so
 * `bad` does not block `badge` or `abad` (no "Scunthorpe" false positives); a phrase also
 * matches with its spaces left out (`bad word`, `badword`); an entry ending
 * (starting) in `*` also matches words that begin (end) with it. Entries in scripts written
 * without spaces (Han, kana, Thai, Lao, Khmer, Myanmar) match anywhere.
 *
 * Trade-offs, documented in docs/security.md: single letters that
 * happen to spell an entry across separators (`plan B. A D-day` → `b a d` → `bad`) are
 * blocked (false positive, needs three-plus isolated letters in a row spelling a listed
 * term); partly split words (`ba.d`), letter repetition (`baaad`), leetspeak (`b4d`) and
 * look-alike letters from other scripts (Cyrillic `а`) are not caught.
 */

/** The answer of a filter: blocked or not, and why (for logs; never told to the client). */
export interface ContentVerdict {
  readonly blocked: boolean;
  /** `word_list`, `moderation`, or `moderation_unavailable` (fail-closed). */
  readonly reason?: 'word_list' | 'moderation' | 'moderation_unavailable';
}

/** What the services ask before storing a message. */
export interface ContentFilter {
  check(text: string): Promise<ContentVerdict>;
}

const ALLOWED: ContentVerdict = Object.freeze({ blocked: false });

// ---------------------------------------------------------------------------------------
// Normalization

const COMBINING_MARK = /\p{Mn}/u;
const FORMAT = /\p{Cf}/u;
/** Letters that render as nothing: Hangul fillers, halfwidth Hangul filler, braille blank. */
const INVISIBLE = new Set([0x115f, 0x1160, 0x3164, 0xffa0, 0x2800]);
const WORD_CHAR = /[\p{L}\p{N}]/u;
const SPACE = 0x20;
/** Longest separator between two single letters that still joins them (`b - a`). */
const MAX_SPLIT_GAP = 3;

/** The normalized text as code points: words separated by single spaces. */
export function normalizeToCodePoints(text: string): number[] {
  const words: { chars: number[]; gapBefore: number }[] = [];
  let current: number[] | undefined;
  let gap = 0;
  for (const char of text.normalize('NFKD')) {
    const cp = char.codePointAt(0) as number;
    if (COMBINING_MARK.test(char) || FORMAT.test(char) || INVISIBLE.has(cp)) continue;
    if (WORD_CHAR.test(char)) {
      if (!current) {
        current = [];
        words.push({ chars: current, gapBefore: gap });
        gap = 0;
      }
      // Lower-casing may yield more than one code point (İ → i̇); marks are dropped again.
      for (const lower of char.toLowerCase()) {
        if (!COMBINING_MARK.test(lower)) current.push(lower.codePointAt(0) as number);
      }
    } else {
      current = undefined;
      gap++;
    }
  }
  const out: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as (typeof words)[number];
    if (i > 0) {
      const previous = words[i - 1] as (typeof words)[number];
      const split = previous.chars.length === 1 && word.chars.length === 1 && word.gapBefore <= MAX_SPLIT_GAP;
      if (!split) out.push(SPACE);
    }
    out.push(...word.chars);
  }
  return out;
}

/** The normalized text as a string (for tests and logs). */
export function normalizeText(text: string): string {
  return String.fromCodePoint(...normalizeToCodePoints(text));
}

// ---------------------------------------------------------------------------------------
// Aho–Corasick

export interface AhoCorasickMatch {
  /** Index of the pattern in the list given to the constructor. */
  readonly pattern: number;
  /** Start (inclusive) and end (exclusive), in code points of the searched sequence. */
  readonly start: number;
  readonly end: number;
}

interface AcNode {
  readonly next: Map<number, number>;
  fail: number;
  /** Nearest node on the fail chain that ends a pattern (-1: none). */
  outputLink: number;
  /** Patterns ending exactly here. */
  readonly patterns: number[];
  readonly depth: number;
}

/**
 * Aho–Corasick automaton over code points: finds every occurrence of every pattern,
 * overlapping ones included, in one left-to-right pass over the text.
 */
export class AhoCorasick {
  private readonly nodes: AcNode[] = [];
  private readonly lengths: number[];

  constructor(patterns: readonly (readonly number[])[]) {
    this.lengths = patterns.map((p) => p.length);
    const root: AcNode = { next: new Map(), fail: 0, outputLink: -1, patterns: [], depth: 0 };
    this.nodes.push(root);
    patterns.forEach((pattern, index) => {
      if (pattern.length === 0) return;
      let state = 0;
      for (const cp of pattern) {
        const node = this.nodes[state] as AcNode;
        let child = node.next.get(cp);
        if (child === undefined) {
          child = this.nodes.length;
          this.nodes.push({ next: new Map(), fail: 0, outputLink: -1, patterns: [], depth: node.depth + 1 });
          node.next.set(cp, child);
        }
        state = child;
      }
      (this.nodes[state] as AcNode).patterns.push(index);
    });
    // Breadth-first: a node's fail link points to a shallower node, already complete.
    const queue: number[] = [...root.next.values()];
    for (let head = 0; head < queue.length; head++) {
      const id = queue[head] as number;
      const node = this.nodes[id] as AcNode;
      for (const [cp, child] of node.next) {
        let fallback = node.fail;
        while (fallback !== 0 && !(this.nodes[fallback] as AcNode).next.has(cp)) {
          fallback = (this.nodes[fallback] as AcNode).fail;
        }
        const target = (this.nodes[fallback] as AcNode).next.get(cp);
        const childNode = this.nodes[child] as AcNode;
        childNode.fail = target !== undefined && target !== child ? target : 0;
        const failNode = this.nodes[childNode.fail] as AcNode;
        childNode.outputLink = failNode.patterns.length > 0 ? childNode.fail : failNode.outputLink;
        queue.push(child);
      }
    }
  }

  /** Calls `onMatch` for every occurrence; stops early when it returns true. */
  search(text: readonly number[], onMatch: (match: AhoCorasickMatch) => boolean | undefined): void {
    let state = 0;
    for (let i = 0; i < text.length; i++) {
      const cp = text[i] as number;
      let node = this.nodes[state] as AcNode;
      while (state !== 0 && !node.next.has(cp)) {
        state = node.fail;
        node = this.nodes[state] as AcNode;
      }
      state = node.next.get(cp) ?? 0;
      for (let out = state; out > 0; out = (this.nodes[out] as AcNode).outputLink) {
        for (const pattern of (this.nodes[out] as AcNode).patterns) {
          const end = i + 1;
          if (onMatch({ pattern, start: end - (this.lengths[pattern] as number), end })) return;
        }
      }
    }
  }

  /** Every occurrence, in order of their end. */
  findAll(text: readonly number[]): AhoCorasickMatch[] {
    const matches: AhoCorasickMatch[] = [];
    this.search(text, (match) => {
      matches.push(match);
      return false;
    });
    return matches;
  }
}

// ---------------------------------------------------------------------------------------
// The word-list filter

/** Scripts written without spaces between words: their entries match anywhere. */
const UNSPACED_SCRIPT =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;

interface Entry {
  readonly source: string;
  readonly needsStartBoundary: boolean;
  readonly needsEndBoundary: boolean;
}

/** Splits `BLOCKED_WORDS`: comma-separated, blanks dropped. */
export function parseWordList(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((word) => word.trim())
    .filter((word) => word.length > 0);
}

/** Matches a word list (see the module comment for the rules). */
export class WordListFilter implements ContentFilter {
  private readonly automaton: AhoCorasick;
  private readonly entries: Entry[] = [];

  constructor(words: Iterable<string>) {
    const patterns: number[][] = [];
    const seen = new Set<string>();
    for (const word of words) {
      const trimmed = word.trim();
      const prefix = trimmed.endsWith('*');
      const suffix = trimmed.startsWith('*');
      const core = trimmed.replace(/^\*+|\*+$/g, '');
      const pattern = normalizeToCodePoints(core);
      if (pattern.length === 0) continue;
      const first = String.fromCodePoint(pattern[0] as number);
      const last = String.fromCodePoint(pattern[pattern.length - 1] as number);
      const entry: Entry = {
        source: trimmed,
        needsStartBoundary: !suffix && !UNSPACED_SCRIPT.test(first),
        needsEndBoundary: !prefix && !UNSPACED_SCRIPT.test(last),
      };
      // A phrase also matches written as one word (`kill yourself`, `killyourself`), which is
      // also what a phrase spelled letter by letter (`k.i.l.l y.o.u...`) normalizes to.
      const variants = pattern.includes(SPACE) ? [pattern, pattern.filter((cp) => cp !== SPACE)] : [pattern];
      for (const variant of variants) {
        const key = `${entry.needsStartBoundary}|${entry.needsEndBoundary}|${String.fromCodePoint(...variant)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        patterns.push(variant);
        this.entries.push(entry);
      }
    }
    this.automaton = new AhoCorasick(patterns);
  }

  /** Number of distinct patterns (after normalization; a phrase counts twice). */
  get size(): number {
    return this.entries.length;
  }

  /** The entries found in `text` (each once), in order of where they end. */
  matches(text: string): string[] {
    const normalized = normalizeToCodePoints(text);
    const found = new Set<string>();
    this.automaton.search(normalized, (match) => {
      if (this.accepts(match, normalized)) found.add((this.entries[match.pattern] as Entry).source);
      return false;
    });
    return [...found];
  }

  isBlocked(text: string): boolean {
    const normalized = normalizeToCodePoints(text);
    let blocked = false;
    this.automaton.search(normalized, (match) => {
      blocked = this.accepts(match, normalized);
      return blocked;
    });
    return blocked;
  }

  async check(text: string): Promise<ContentVerdict> {
    return this.isBlocked(text) ? { blocked: true, reason: 'word_list' } : ALLOWED;
  }

  private accepts(match: AhoCorasickMatch, text: readonly number[]): boolean {
    const entry = this.entries[match.pattern] as Entry;
    if (entry.needsStartBoundary && match.start > 0 && text[match.start - 1] !== SPACE) return false;
    if (entry.needsEndBoundary && match.end < text.length && text[match.end] !== SPACE) return false;
    return true;
  }
}

// ---------------------------------------------------------------------------------------
// External moderation

/** An external moderation service (a third-party text-censoring API, say). */
export interface ModerationService {
  /** Resolves with the verdict; rejects (or honours `signal`) when it cannot answer. */
  moderate(text: string, signal: AbortSignal): Promise<{ readonly blocked: boolean }>;
}

export type ModerationFailMode = 'open' | 'closed';
export const MODERATION_FAIL_MODES: readonly ModerationFailMode[] = ['open', 'closed'];

export interface ModerationSettings {
  readonly timeoutMs: number;
  /** `open`: a failed or late answer lets the message through; `closed`: blocks it. */
  readonly failMode: ModerationFailMode;
  /** Told about every failed or late answer. */
  readonly onFailure?: (error: unknown) => void;
}

export class ModerationTimeoutError extends Error {
  override name = 'ModerationTimeoutError';
}

/**
 * Asks the service, waiting at most `timeoutMs`; a rejection, a malformed answer or the
 * timeout is decided by the fail mode.
 */
export class ModeratedContentFilter implements ContentFilter {
  constructor(
    private readonly service: ModerationService,
    private readonly settings: ModerationSettings,
  ) {}

  async check(text: string): Promise<ContentVerdict> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new ModerationTimeoutError(`moderation took longer than ${this.settings.timeoutMs} ms`);
        controller.abort(error);
        reject(error);
      }, this.settings.timeoutMs);
    });
    try {
      const answer = await Promise.race([this.service.moderate(text, controller.signal), timeout]);
      if (typeof answer?.blocked !== 'boolean') throw new Error('moderation answer has no boolean "blocked"');
      return answer.blocked ? { blocked: true, reason: 'moderation' } : ALLOWED;
    } catch (error) {
      this.settings.onFailure?.(error);
      return this.settings.failMode === 'closed'
        ? { blocked: true, reason: 'moderation_unavailable' }
        : ALLOWED;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** POSTs `{"text": ...}` as JSON to `url` and expects `{"blocked": boolean}` with a 2xx status. */
export class HttpModerationService implements ModerationService {
  constructor(
    private readonly url: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async moderate(text: string, signal: AbortSignal): Promise<{ blocked: boolean }> {
    const response = await this.fetchImpl(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
      signal,
    });
    if (!response.ok) throw new Error(`moderation service answered HTTP ${response.status}`);
    const body = (await response.json()) as unknown;
    const blocked = (body as { blocked?: unknown } | null)?.blocked;
    if (typeof blocked !== 'boolean') throw new Error('moderation answer has no boolean "blocked"');
    return { blocked };
  }
}

/** Runs filters in order and stops at the first that blocks (word list first: it is free). */
export class ChainedContentFilter implements ContentFilter {
  constructor(private readonly filters: readonly ContentFilter[]) {}

  async check(text: string): Promise<ContentVerdict> {
    for (const filter of this.filters) {
      const verdict = await filter.check(text);
      if (verdict.blocked) return verdict;
    }
    return ALLOWED;
  }
}

export interface ContentFilterConfig {
  /** Added to (or, with `replaceShipped`, replacing) the shipped list. */
  readonly blockedWords: readonly string[];
  readonly replaceShipped: boolean;
  readonly moderation?: { readonly url: string } & Omit<ModerationSettings, 'onFailure'>;
}

/** The filter a deployment configures: word list, then the moderation service if any. */
export function buildContentFilter(
  config: ContentFilterConfig,
  shipped: readonly string[],
  onModerationFailure?: (error: unknown) => void,
): ContentFilter {
  const words = new WordListFilter(
    config.replaceShipped ? config.blockedWords : [...shipped, ...config.blockedWords],
  );
  if (!config.moderation) return words;
  const { url, timeoutMs, failMode } = config.moderation;
  return new ChainedContentFilter([
    words,
    new ModeratedContentFilter(new HttpModerationService(url), {
      timeoutMs,
      failMode,
      onFailure: onModerationFailure,
    }),
  ]);
}
