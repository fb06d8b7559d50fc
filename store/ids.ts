import { randomBytes, randomUUID } from 'node:crypto';

/** A hook id: 192 random bits, URL-safe (SPEC.md §3 asks for at least 128). */
export const newHookId = (): string => randomBytes(24).toString('base64url');
export const newRepoId = (): string => `r_${randomBytes(8).toString('hex')}`;
export const newDeliveryId = (): string => randomUUID();
export const newSecret = (): string => randomBytes(32).toString('base64url');
