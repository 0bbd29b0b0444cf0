// Binds a bare grpc-js server and keeps it up until SIGTERM.
import * as grpc from '@grpc/grpc-js';

export async function serveUntilSignalled(server: grpc.Server, address: string): Promise<void> {
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  );
  process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}
