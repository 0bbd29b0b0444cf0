import { fileURLToPath } from 'node:url';

/** Path of the FileDescriptorSet (all v1 files and their imports) that server reflection serves. */
export const descriptorSetPath = fileURLToPath(new URL('../gen/descriptor.binpb', import.meta.url));
