import { github } from './github/index.ts';
import type { ForgeName, Provider } from './types.ts';

/** The registry of forges by name; the other forges join it as they are built. */
const providers = new Map<string, Provider>([[github.name, github]]);

export function providerFor(forge: string): Provider | undefined {
  return providers.get(forge);
}

export function forgeNames(): ForgeName[] {
  return [...providers.keys()] as ForgeName[];
}

export * from './types.ts';
export { PayloadError } from './payload.ts';
