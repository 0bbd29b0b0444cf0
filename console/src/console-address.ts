export const DEFAULT_CONSOLE_ADDRESS = '127.0.0.1:8080';

/** ELIXIRCHAIN_CONSOLE_ADDR (host:port), or undefined when set to "off" (no console). */
export function consoleAddressFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.ELIXIRCHAIN_CONSOLE_ADDR?.trim();
  if (value === 'off' || value === 'false' || value === '0') return undefined;
  return value || DEFAULT_CONSOLE_ADDRESS;
}
