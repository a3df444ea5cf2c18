import { messageRoute } from '../runtime/websocket.ts';

export const handler = messageRoute(async () => ({ type: 'pong', time: new Date().toISOString() }));
