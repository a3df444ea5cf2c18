/**
 * One-line JSON logs for CloudWatch. Callers pass ids and outcomes only: never tokens,
 * headers or message content.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const levels: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const threshold = levels[(process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? levels.info;

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { errorName: error.name, errorMessage: error.message };
  return { error: String(error) };
}

export function log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
  if (levels[level] < threshold) return;
  const { error, ...rest } = fields;
  const line = JSON.stringify({
    level,
    message,
    time: new Date().toISOString(),
    ...rest,
    ...(error !== undefined ? describe(error) : {}),
  });
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
}
