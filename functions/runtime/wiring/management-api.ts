/**
 * Wiring (see functions/runtime/container.ts): `notifier`, the Management API
 * (`@connections`) at a callback URL. For the functions that post to, check or close
 * connections (`manageConnections` in lib/function-specs.ts).
 */
import { provideServices } from '../container.ts';
import { ManagementApiNotifier } from '../management-api.ts';

provideServices((config) => ({
  notifier: (callbackUrl) => new ManagementApiNotifier(callbackUrl, config.fanOutConcurrency),
}));
