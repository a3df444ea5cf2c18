/** The shape of an HTTP API route: what it receives and returns (data for the success envelope). */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Identity } from '../core/auth/auth.ts';
import type { Services } from './container.ts';

export interface HttpRequest {
  readonly event: APIGatewayProxyEventV2;
  readonly services: Services;
  query(name: string): string | undefined;
  /** A path parameter of the route (`{group_id}`), URL-decoded. */
  param(name: string): string;
  /** The caller's verified identity; throws 401 without a valid bearer token. */
  identity(): Promise<Identity>;
  json(): unknown;
}

/** Returns the `data` of the success envelope; throws ChatError for protocol errors. */
export type HttpRoute = (request: HttpRequest) => Promise<unknown>;
