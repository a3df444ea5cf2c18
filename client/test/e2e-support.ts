/**
 * Helpers for the SDK's end-to-end tests (test/e2e/client-sdk*.test.ts): ChatClients on
 * the local runtime over `ws`, a token gate that keeps a client offline on demand, and
 * waits that end on events (or a timeout that says what was seen), never on sleeps.
 */
import WebSocket from 'ws';
import type { LocalRuntime } from '../../local/runtime.ts';
import { DEFAULT_WAIT_MS, tokenFor } from '../../test/support/local-runtime.ts';
import { ChatClient } from '../src/client.ts';
import type { ChatEvents } from '../src/events.ts';
import type { ChatClientOptions } from '../src/options.ts';
import type { ChatMessage } from '../src/types.ts';

/** A gate the token function waits on: closed, it keeps a client offline until opened again. */
export class Gate {
  private opened: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;

  close(): void {
    this.opened = new Promise((resolve) => {
      this.release = resolve;
    });
  }

  open(): void {
    this.release?.();
  }

  wait(): Promise<void> {
    return this.opened;
  }
}

export interface Session {
  readonly client: ChatClient;
  /** Every `message` event, in order. */
  readonly messages: ChatMessage[];
  readonly states: string[];
  readonly errors: Error[];
  readonly gate: Gate;
}

/** Creates sessions on `runtime`; `closeAll()` closes every one (call it before stopping the runtime). */
export function sessions(runtime: () => LocalRuntime) {
  const clients: ChatClient[] = [];
  return {
    open(userId: string, options: Partial<ChatClientOptions> = {}): Session {
      const gate = new Gate();
      const client = new ChatClient({
        url: runtime().wsUrl,
        token: async () => {
          await gate.wait();
          return tokenFor(runtime(), userId);
        },
        WebSocket,
        reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
        requestTimeoutMs: 5_000,
        ...options,
      });
      clients.push(client);
      const messages: ChatMessage[] = [];
      const states: string[] = [];
      const errors: Error[] = [];
      client.on('message', (message) => messages.push(message));
      client.on('state', (state) => states.push(state));
      client.on('error', (error) => errors.push(error));
      return { client, messages, states, errors, gate };
    },
    track(client: ChatClient): ChatClient {
      clients.push(client);
      return client;
    },
    closeAll(): void {
      for (const client of clients) client.close();
    },
  };
}

/** Resolves once `check()` holds: checked now and after every `event`; fails after a timeout, saying what it saw. */
export function until<E extends keyof ChatEvents>(
  client: ChatClient,
  event: E,
  check: () => boolean,
  describe: () => string,
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${describe()}`));
    }, timeoutMs);
    const off = client.on(event, () => {
      if (!check()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

export const contents = (messages: readonly ChatMessage[]) => messages.map((m) => m.content);

/** Until `who` got `count` messages (whatever they are: the test then asserts which). */
export function untilCount(who: Session, count: number): Promise<void> {
  return until(
    who.client,
    'message',
    () => who.messages.length >= count,
    () => `${count} messages; got ${JSON.stringify(contents(who.messages))}`,
  );
}

export function untilState(who: Session, state: ChatEvents['state']): Promise<void> {
  return until(
    who.client,
    'state',
    () => who.client.state === state,
    () => `state ${state}; went through ${who.states.join(' → ')}`,
  );
}
