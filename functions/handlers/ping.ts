import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/management-api.ts';

export const handler = messageRoute(async () => ({ type: 'pong', time: new Date().toISOString() }));
