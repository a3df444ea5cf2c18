/**
 * One-line logs for the local runtime, on stderr so the banner on stdout stays clean.
 * Tokens travel in query strings and headers; nothing here ever prints either verbatim.
 */

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

export interface LoggerOptions {
  /** Print nothing on stderr (tests). */
  readonly quiet?: boolean;
  /** Receives every line instead of stderr, even when quiet (tests that read the logs). */
  readonly sink?: (line: string) => void;
}

const TOKEN_QUERY_PARAMETER = /([?&](?:token|access_token|id_token)=)[^&#]*/gi;

/** Replaces token query parameter values, so URLs can be logged. */
export function redactUrl(url: string): string {
  return url.replace(TOKEN_QUERY_PARAMETER, '$1[redacted]');
}

function timestamp(): string {
  return new Date().toISOString().slice(11, 23);
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const sink = options.sink ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (options.quiet && !options.sink) return { info() {}, warn() {}, error() {} };
  const write = (level: string, message: string) => sink(`${timestamp()} ${level}${message}`);
  return {
    info: (message) => write('', message),
    warn: (message) => write('WARN ', message),
    error: (message, error) =>
      write('ERROR ', error === undefined ? message : `${message}\n${describeError(error)}`),
  };
}

/** Milliseconds since `startedAt`, for log lines. */
export function elapsed(startedAt: number): string {
  return `${Date.now() - startedAt}ms`;
}

const HIDDEN_HANDLER_FIELDS = new Set(['level', 'message', 'time']);

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * A handler's line, readable: its JSON log line as `message key=value …` (context ids
 * included, the timestamp left to the runtime's own); anything else (the `METRIC …` lines
 * of `METRICS_FORMAT=text`, EMF documents) unchanged.
 */
export function formatHandlerLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof parsed !== 'object' || parsed === null || '_aws' in parsed) return line;
  const record = parsed as Record<string, unknown>;
  if (typeof record.message !== 'string') return line;
  const fields = Object.entries(record)
    .filter(([name, value]) => !HIDDEN_HANDLER_FIELDS.has(name) && value !== undefined)
    .map(([name, value]) => `${name}=${fieldValue(value)}`);
  return [record.message, ...fields].join(' ');
}

/** Prints a handler's log or metrics line through `logger`, at its level. */
export function printHandlerLine(logger: Logger, line: string, level: string): void {
  const text = `  » ${formatHandlerLine(line)}`;
  if (level === 'error') logger.error(text);
  else if (level === 'warn') logger.warn(text);
  else logger.info(text);
}
