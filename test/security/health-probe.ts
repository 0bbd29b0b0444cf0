import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

// The standard health service, asked the way any client would: from the public proto.
const require = createRequire(import.meta.url);
const healthProto = grpc.loadPackageDefinition(
  protoLoader.loadSync(require.resolve('grpc-health-check/proto/health/v1/health.proto'), { keepCase: true, enums: String, defaults: true }),
) as any;

export function checkHealth(address: string, service = ''): Promise<string> {
  const client = new healthProto.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.Check({ service }, { deadline: Date.now() + 5000 }, (error: Error | null, response: { status: string }) => {
      client.close();
      if (error) reject(error);
      else resolve(response.status);
    });
  });
}
