/**
 * Wiring for the stack's `tracing` option: every SDK client (DynamoDB, the Management API,
 * Lambda, Secrets Manager) gets Powertools Tracer's X-Ray middleware, so each call is a
 * subsegment of the function's segment, which Lambda's active tracing creates. Never
 * imported by a handler: the stack has esbuild inject it into every bundle when tracing is
 * on (lib/constructs/chat-function.ts), so the default bundles do not contain it.
 *
 * Outside Lambda (no `AWS_EXECUTION_ENV`) and with `POWERTOOLS_TRACE_ENABLED=false` the
 * tracer disables itself: clients are left alone, nothing is sent, nothing is logged.
 * HTTP(S) requests are not captured globally: the SDK calls already are, and other
 * requests (JWKS) are not worth a subsegment.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import { provideClientTracer } from '../tracing.ts';

const tracer = new Tracer({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME || 'chat-backend',
  captureHTTPsRequests: false,
});

provideClientTracer((client) => tracer.captureAWSv3Client(client));
