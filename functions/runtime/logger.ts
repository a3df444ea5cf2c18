/**
 * One-line JSON logs for CloudWatch. Callers pass ids and outcomes only: never tokens,
 * headers or message content.
 *
 * A route runs inside a log context (`withLogContext`): every line logged while it runs,
 * however deep in its async calls, carries the context's fields (`connectionId`, `routeKey`,
 * `requestId`, and `userId` once `addLogContext` has set it). Explicit fields win.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where a finished line goes; `level` picks stdout (debug, info) or stderr (warn, error) by default. */
export type LogWriter = (line: string, level: LogLevel) => void;

const levels: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** `LOG_LEVEL`, read per line (cheap), so it applies whenever the environment is set. */
function threshold(): number {
  return levels[(process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? levels.info;
}

const consoleWriter: LogWriter = (line, level) => {
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
};
let writer: LogWriter = consoleWriter;

/**
 * Sends every log and metrics line to `replacement` instead of the console (undefined
 * restores the console). The local runtime uses it to print handler lines with its own;
 * handler code never calls it.
 */
export function setLogWriter(replacement: LogWriter | undefined): void {
  writer = replacement ?? consoleWriter;
}

/** Writes a finished line (logs, metrics) through the current writer. */
export function writeLine(line: string, level: LogLevel = 'info'): void {
  writer(line, level);
}

type LogContext = Record<string, unknown>;
const context = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `fields` added to every log line it writes (nested contexts add to the outer one). */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, fn);
}

/** Adds fields (e.g. `userId`, once known) to the current log context; no-op outside one. */
export function addLogContext(fields: LogContext): void {
  const store = context.getStore();
  if (store) Object.assign(store, fields);
}

/** The current log context's fields (a copy). */
export function logContext(): LogContext {
  return { ...context.getStore() };
}

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { errorName: error.name, errorMessage: error.message };
  return { error: String(error) };
}

export function log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
  if (levels[level] < threshold()) return;
  const { error, ...rest } = fields;
  const line = JSON.stringify({
    level,
    message,
    time: new Date().toISOString(),
    ...context.getStore(),
    ...rest,
    ...(error !== undefined ? describe(error) : {}),
  });
  writer(line, level);
}
