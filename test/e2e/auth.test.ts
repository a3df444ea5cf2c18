/**
 * Authentication at `$connect` and the welcome push, as a client sees them: which tokens
 * open a connection (and through which token source), which are refused with HTTP 401
 * — writing nothing — and the greeting that follows an accepted handshake.
 * Run: npx tsx --test test/e2e/auth.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertIsoTime,
  type ChatConnection,
  CONNECTION_ID,
  disconnect,
  sendCommand,
  welcomed,
} from '../support/chat.ts';
import { onlineCount } from '../support/http.ts';
import {
  expectHandshakeRefused,
  managementClient,
  type OpenOptions,
  startTestRuntime,
  TestClient,
  tokenFor,
  webSocketUrl,
} from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';
import { claimsFor, epochSecondsFromNow, signClaims, unsignedToken } from '../support/tokens.ts';

let runtime: LocalRuntime;
let tables: RuntimeTables;

before(async () => {
  runtime = await startTestRuntime();
  tables = runtimeTables(runtime);
});
after(async () => {
  tables.destroy();
  await runtime.stop();
});

/** Everything a handshake could write: connection rows, presence (with the counters), online-count. */
async function storedState() {
  return {
    connections: await tables.scan('connections'),
    presence: await tables.scan('presence'),
    onlineCount: await onlineCount(runtime),
  };
}

const secret = () => runtime.jwtSecret as string;
const OTHER_SECRET = 'not-the-secret-the-runtime-verifies-with-0123456789';

interface RefusedCase {
  readonly name: string;
  /** The URL and options of the handshake to refuse. */
  handshake(): Promise<{ url: string; options?: OpenOptions }>;
}

const withQueryToken = (token: string) => ({ url: webSocketUrl(runtime, { token }) });

const refusedCases: readonly RefusedCase[] = [
  { name: 'no token at all', handshake: async () => ({ url: webSocketUrl(runtime) }) },
  { name: 'a malformed token', handshake: async () => withQueryToken('not-a-jwt') },
  { name: 'three segments of garbage', handshake: async () => withQueryToken('abc.def.ghi') },
  {
    name: 'a token signed with another secret',
    handshake: async () => withQueryToken(await signClaims(claimsFor('mallory'), { secret: OTHER_SECRET })),
  },
  {
    name: 'a token expired beyond the 30 s clock skew',
    handshake: async () =>
      withQueryToken(
        await signClaims(
          claimsFor('late', { iat: epochSecondsFromNow(-7200), exp: epochSecondsFromNow(-120) }),
          {
            secret: secret(),
          },
        ),
      ),
  },
  {
    name: 'an unsigned alg:none token',
    handshake: async () => withQueryToken(unsignedToken(claimsFor('admin'))),
  },
  {
    name: 'HS512 with the right secret (algorithms are pinned)',
    handshake: async () =>
      withQueryToken(await signClaims(claimsFor('u1'), { secret: secret(), alg: 'HS512' })),
  },
  {
    name: 'a token without sub',
    handshake: async () => {
      const { sub: _sub, ...claims } = claimsFor('nobody');
      return withQueryToken(await signClaims(claims, { secret: secret() }));
    },
  },
  {
    name: 'a token without exp',
    handshake: async () => {
      const { exp: _exp, ...claims } = claimsFor('forever');
      return withQueryToken(await signClaims(claims, { secret: secret() }));
    },
  },
  {
    name: 'a subject that is not a valid user id (#stats)',
    handshake: async () => withQueryToken(await signClaims(claimsFor('#stats'), { secret: secret() })),
  },
  {
    name: 'a blank subject',
    handshake: async () => withQueryToken(await signClaims(claimsFor('   '), { secret: secret() })),
  },
  {
    name: 'a wrongly signed token in Authorization: Bearer',
    handshake: async () => ({
      url: webSocketUrl(runtime),
      options: {
        headers: { Authorization: `Bearer ${await signClaims(claimsFor('u1'), { secret: OTHER_SECRET })}` },
      },
    }),
  },
  {
    name: 'a wrongly signed token in the legacy websocket header',
    handshake: async () => ({
      url: webSocketUrl(runtime),
      options: { headers: { websocket: await signClaims(claimsFor('u1'), { secret: OTHER_SECRET }) } },
    }),
  },
  {
    name: 'a wrongly signed token as the bearer subprotocol',
    handshake: async () => ({
      url: webSocketUrl(runtime),
      options: {
        protocols: ['chat', `bearer.${await signClaims(claimsFor('u1'), { secret: OTHER_SECRET })}`],
      },
    }),
  },
  {
    name: 'a bad ?token= even with a valid Authorization header (first source wins)',
    handshake: async () => ({
      url: webSocketUrl(runtime, { token: 'not-a-jwt' }),
      options: { headers: { Authorization: `Bearer ${await tokenFor(runtime, 'u1')}` } },
    }),
  },
];

describe('refused handshakes: HTTP 401 and nothing written', () => {
  for (const refused of refusedCases) {
    test(refused.name, async () => {
      const { url, options } = await refused.handshake();
      const before = await storedState();
      assert.equal(await expectHandshakeRefused(url, options), 401);
      assert.deepEqual(await storedState(), before);
    });
  }
});

describe('accepted handshakes', () => {
  async function openWelcomed(url: string, options: OpenOptions = {}): Promise<ChatConnection> {
    return welcomed(await TestClient.open(url, options));
  }

  test('the token is accepted from ?token=, Authorization: Bearer and the legacy websocket header', async () => {
    const viaQuery = await openWelcomed(
      webSocketUrl(runtime, { token: await tokenFor(runtime, 'by-query') }),
    );
    const viaBearer = await openWelcomed(webSocketUrl(runtime), {
      headers: { Authorization: `Bearer ${await tokenFor(runtime, 'by-bearer')}` },
    });
    const viaLegacy = await openWelcomed(webSocketUrl(runtime), {
      headers: { websocket: await tokenFor(runtime, 'by-legacy-header') },
    });
    assert.deepEqual(
      [viaQuery, viaBearer, viaLegacy].map((c) => [c.userId, c.client.socket.protocol]),
      [
        ['by-query', ''],
        ['by-bearer', ''],
        ['by-legacy-header', ''],
      ],
    );
    await disconnect(runtime, viaQuery, viaBearer, viaLegacy);
  });

  test('subprotocols chat + bearer.<jwt>: accepted, and the handshake answers "chat"', async () => {
    const token = await tokenFor(runtime, 'by-subprotocol');
    const connection = await openWelcomed(webSocketUrl(runtime), { protocols: ['chat', `bearer.${token}`] });
    assert.equal(connection.userId, 'by-subprotocol');
    assert.equal(connection.client.socket.protocol, 'chat');
    await disconnect(runtime, connection);
  });

  test('the /ws/chat path of the old services works, with any token source', async () => {
    const token = await tokenFor(runtime, 'old-client');
    const connection = await openWelcomed(webSocketUrl(runtime, { path: '/ws/chat' }), {
      protocols: ['chat', `bearer.${token}`],
    });
    assert.equal(connection.userId, 'old-client');
    assert.equal(connection.client.socket.protocol, 'chat');
    await disconnect(runtime, connection);
  });

  test('the first token source wins: ?token= over Authorization', async () => {
    const connection = await openWelcomed(
      webSocketUrl(runtime, { token: await tokenFor(runtime, 'from-query') }),
      {
        headers: { Authorization: `Bearer ${await tokenFor(runtime, 'from-header')}` },
      },
    );
    assert.equal(connection.userId, 'from-query');
    await disconnect(runtime, connection);
  });

  test('a token that expired 10 s ago is still accepted (30 s clock skew)', async () => {
    const token = await signClaims(
      claimsFor('just-expired', { iat: epochSecondsFromNow(-3600), exp: epochSecondsFromNow(-10) }),
      { secret: secret() },
    );
    const connection = await openWelcomed(webSocketUrl(runtime, { token }));
    assert.equal(connection.userId, 'just-expired');
    await disconnect(runtime, connection);
  });
});

describe('welcome push', () => {
  test('arrives unasked as the first frame: type, user_id, connection_id, ISO time', async () => {
    const client = await TestClient.open(
      webSocketUrl(runtime, { token: await tokenFor(runtime, 'greeted') }),
    );
    const connection = await welcomed(client);
    assert.equal(client.frames[0]?.json, connection.welcome, 'the welcome is the first frame');
    const { code, message, data, ...rest } = connection.welcome;
    assert.deepEqual({ code, message, rest }, { code: 0, message: 'success', rest: {} }, 'no request_id');
    assert.deepEqual(Object.keys(data ?? {}).sort(), ['connection_id', 'time', 'type', 'user_id']);
    assert.equal(data?.type, 'welcome');
    assert.equal(data?.user_id, 'greeted');
    assert.match(connection.connectionId, CONNECTION_ID);
    assertIsoTime(data?.time);

    // The id names this very connection: the Management API knows it.
    const management = managementClient(runtime);
    const described = await management.send(
      new GetConnectionCommand({ ConnectionId: connection.connectionId }),
    );
    management.destroy();
    assert.ok(described.ConnectedAt instanceof Date);
    // The time is when the welcome was sent: after the connection opened, before the server
    // answered a later ping (server times only, in the order the events happened).
    const pong = await sendCommand(client, 'ping');
    const sentAt = Date.parse(String(data?.time));
    assert.ok(described.ConnectedAt.getTime() <= sentAt, `connected ${described.ConnectedAt.toISOString()}`);
    assert.ok(sentAt <= Date.parse(String(pong.data?.time)), `pong at ${pong.data?.time}`);
    await disconnect(runtime, connection);
  });

  test('two devices of one user get their own welcome with different connection ids', async () => {
    const token = await tokenFor(runtime, 'two-devices');
    const phone = await welcomed(await TestClient.open(webSocketUrl(runtime, { token })));
    const laptop = await welcomed(await TestClient.open(webSocketUrl(runtime, { token })));
    assert.equal(phone.userId, 'two-devices');
    assert.equal(laptop.userId, 'two-devices');
    assert.notEqual(phone.connectionId, laptop.connectionId);
    assert.equal(phone.client.frames.filter((f) => f.json?.data?.type === 'welcome').length, 1);
    assert.equal(laptop.client.frames.filter((f) => f.json?.data?.type === 'welcome').length, 1);
    await disconnect(runtime, phone, laptop);
  });

  test('a command sent right after the handshake is served, and the welcome still comes', async () => {
    const client = await TestClient.open(webSocketUrl(runtime, { token: await tokenFor(runtime, 'eager') }));
    const pong = await sendCommand(client, 'ping', {}, 'eager-ping');
    assert.equal(pong.data?.type, 'pong');
    const connection = await welcomed(client);
    assert.equal(connection.userId, 'eager');
    await disconnect(runtime, connection);
  });
});
