import { z } from 'zod';
import { defineTool } from '@elixirchain/plugin-sdk';

const API = 'https://api.open-meteo.com/v1/forecast';

const forecastResponse = z.object({
  current: z.object({
    time: z.string(),
    temperature_2m: z.number(),
    wind_speed_10m: z.number(),
    weather_code: z.number().int(),
  }),
});

// WMO weather interpretation codes, as Open-Meteo reports them.
const CONDITIONS: Record<number, string> = {
  0: 'clear sky', 1: 'mainly clear', 2: 'partly cloudy', 3: 'overcast', 45: 'fog', 48: 'rime fog',
  51: 'light drizzle', 53: 'drizzle', 55: 'dense drizzle', 61: 'light rain', 63: 'rain', 65: 'heavy rain',
  71: 'light snow', 73: 'snow', 75: 'heavy snow', 80: 'rain showers', 81: 'rain showers', 82: 'violent rain showers',
  95: 'thunderstorm', 96: 'thunderstorm with hail', 99: 'thunderstorm with heavy hail',
};

export default defineTool({
  name: 'weather',
  version: '1.0.0',
  description: 'Current temperature, wind and conditions at a latitude/longitude, from the Open-Meteo API.',
  input: z.object({
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
  }),
  output: z.object({
    time: z.string(),
    temperatureC: z.number(),
    windKmh: z.number(),
    conditions: z.string(),
  }),
  annotations: { readOnly: true, idempotent: true, openWorld: true },
  permissions: { network: ['api.open-meteo.com'] },
  limits: { memoryMb: 32, timeoutMs: 10_000 },
  retry: { maxAttempts: 3, initialBackoffMs: 250 },
  async execute({ latitude, longitude }, ctx) {
    const url = `${API}?latitude=${latitude}&longitude=${longitude}&current=temperature_2m,wind_speed_10m,weather_code`;
    const response = await ctx.fetch(url, { headers: { accept: 'application/json' } });
    if (!response.ok) {
      // A thrown error fails the attempt; the sandbox retries it because the tool is idempotent.
      throw new Error(`Open-Meteo answered ${response.status} ${response.statusText}`);
    }
    const { current } = forecastResponse.parse(await response.json());
    return {
      time: current.time,
      temperatureC: current.temperature_2m,
      windKmh: current.wind_speed_10m,
      conditions: CONDITIONS[current.weather_code] ?? `weather code ${current.weather_code}`,
    };
  },
});
