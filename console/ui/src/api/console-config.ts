import { useEffect, useState } from 'preact/hooks';
import { api } from './gateway-api.js';

/** What the gateway says of itself (GET /api/config): read once per page load. */
export interface ConsoleConfig {
  /** Jaeger's UI, when the console was told where it is (ELIXIRCHAIN_CONSOLE_JAEGER_URL). */
  jaegerUrl: string | null;
}

let loading: Promise<ConsoleConfig> | undefined;

export function loadConsoleConfig(): Promise<ConsoleConfig> {
  loading ??= api.get<ConsoleConfig>('/api/config').catch(() => {
    loading = undefined;
    return { jaegerUrl: null };
  });
  return loading;
}

export function useConsoleConfig(): ConsoleConfig {
  const [config, setConfig] = useState<ConsoleConfig>({ jaegerUrl: null });
  useEffect(() => {
    let live = true;
    void loadConsoleConfig().then((c) => live && setConfig(c));
    return () => {
      live = false;
    };
  }, []);
  return config;
}
