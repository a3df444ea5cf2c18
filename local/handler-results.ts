/** Reading what handlers return: `{statusCode, headers?, body?, isBase64Encoded?}` or anything else. */

export interface ProxyResult {
  readonly statusCode?: number;
  readonly headers?: Readonly<Record<string, unknown>>;
  readonly body?: unknown;
  readonly isBase64Encoded?: boolean;
  readonly cookies?: readonly string[];
}

export function asProxyResult(value: unknown): ProxyResult | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as ProxyResult)
    : undefined;
}

/** Header lookup that ignores case, as HTTP does. */
export function headerValue(headers: ProxyResult['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted && value !== undefined && value !== null) return String(value);
  }
  return undefined;
}

export function isSuccessStatus(status: number): boolean {
  return status >= 200 && status < 300;
}
