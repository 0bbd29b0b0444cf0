import { z } from 'zod';
import { defineTool } from '@elixirchain/plugin-sdk';
import { hmacSha256, toHex, utf8 } from './sha256.js';

// The signing key is an operator secret: the tool reads it through ctx and
// never returns it. The sandbox fails a call whose output contains it and
// redacts it from logs and errors.
export default defineTool({
  name: 'webhook-signer',
  version: '1.0.0',
  description:
    'Signs a webhook payload with HMAC-SHA256 (Stripe/GitHub style) using the WEBHOOK_SIGNING_KEY secret, returning the signature header to send with it.',
  input: z.object({
    payload: z.string().max(256 * 1024).describe('The exact request body that will be sent'),
    timestamp: z.number().int().positive().describe('Unix seconds; signed together with the payload to stop replays'),
  }),
  output: z.object({
    header: z.string().describe('Value for the X-Signature header: t=<timestamp>,v1=<hex>'),
    signature: z.string(),
  }),
  annotations: { readOnly: true, idempotent: true },
  permissions: { secrets: ['WEBHOOK_SIGNING_KEY'] },
  limits: { memoryMb: 32, timeoutMs: 2000 },
  execute({ payload, timestamp }, ctx) {
    const key = ctx.secrets.get('WEBHOOK_SIGNING_KEY');
    const signature = toHex(hmacSha256(utf8(key), utf8(`${timestamp}.${payload}`)));
    ctx.log('info', `signed ${payload.length} characters for t=${timestamp}`);
    return { header: `t=${timestamp},v1=${signature}`, signature };
  },
});
