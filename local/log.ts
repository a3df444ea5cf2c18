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
