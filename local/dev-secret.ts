/** Signing secret the local runtime and `npm run token` use when JWT_SECRET is unset. Never for production. */
export const DEVELOPMENT_JWT_SECRET = 'local-development-secret-change-me-0123456789';
