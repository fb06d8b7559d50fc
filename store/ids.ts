import { randomBytes, randomUUID } from 'node:crypto';

/** A hook id: 192 random bits, URL-safe (at least 128 are needed). */
export const newHookId = (): string => randomBytes(24).toString('base64url');
export const newRepoId = (): string => `r_${randomBytes(8).toString('hex')}`;
export const newDeliveryId = (): string => randomUUID();
export const newSecret = (): string => randomBytes(32).toString('base64url');
