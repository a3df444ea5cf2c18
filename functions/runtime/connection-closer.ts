/** Closing connections through the Management API (`DELETE @connections/{id}`). */
import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { ConnectionCloser } from '../core/sessions.ts';
import { classifyDeliveryError } from './management-api.ts';

export class ManagementApiCloser implements ConnectionCloser {
  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  async close(connectionId: string): Promise<boolean> {
    try {
      await this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
      return true;
    } catch (error) {
      if (classifyDeliveryError(error) === 'gone') return false;
      throw error;
    }
  }
}
