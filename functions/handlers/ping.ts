import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/management-api.ts';

// The sender is resolved only to check the token: a ping must not keep an expired one alive.
export const handler = messageRoute(async ({ sender }) => {
  await sender();
  return { type: 'pong', time: new Date().toISOString() };
});
