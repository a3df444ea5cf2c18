/** `GET /api/ws/unread`: the caller's unread counts per conversation (JWT). */
import type { HttpRoute } from '../runtime/http-route.ts';

export const unreadRoute: HttpRoute = async ({ services, identity }) => {
  const reader = await identity();
  await services.readLimiter.check(reader.userId);
  return services.unread.summary(reader.userId);
};
