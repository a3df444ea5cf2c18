/**
 * The hook through which AWS X-Ray tracing reaches the SDK clients. Every client is built
 * through `traced`, which leaves it alone unless a client tracer was provided — by
 * functions/runtime/wiring/tracing.ts, which only the bundles of a stack deployed with
 * tracing on contain (esbuild injects it; see lib/constructs/chat-function.ts). So the
 * default bundles hold neither Powertools Tracer nor the X-Ray SDK, and pay nothing for them.
 */

/** Adds tracing to an SDK v3 client and returns it (the same client, with middleware added). */
export type ClientTracer = <Client extends object>(client: Client) => Client;

let clientTracer: ClientTracer | undefined;

/** Called by wiring/tracing.ts when imported, before any client is built. */
export function provideClientTracer(tracer: ClientTracer): void {
  clientTracer = tracer;
}

/** `client`, traced when tracing is wired into this bundle. Call it right after `new`, before any `send`. */
export function traced<Client extends object>(client: Client): Client {
  return clientTracer ? clientTracer(client) : client;
}
