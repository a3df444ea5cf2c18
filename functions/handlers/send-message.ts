// Placeholder until the real handler lands; exports the handler contract.
export const handler = async (_event: unknown): Promise<{ statusCode: number; body?: string }> => ({ statusCode: 200 });
