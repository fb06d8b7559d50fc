import { isUniqueViolation } from '../store/index.ts';

/**
 * Errors a caller can cause, by kind: the HTTP API maps each kind to one
 * status (server/errors.ts) and the CLI prints the message. Anything else is
 * ours to fix (500), or the database being away (503).
 */
export class InputError extends Error {}
export class NotFoundError extends Error {}
export class ConflictError extends Error {}
/** The caller is known but may not do this (403): not one of an environment's approvers. */
export class ForbiddenError extends Error {}
/** A forge's API refused or failed what we asked of it for the caller (502: the fault is upstream). */
export class UpstreamError extends Error {}

/** Runs `fn`; a name taken meanwhile (a unique key violated) is the caller's conflict, said in `message`. */
export async function onConflict<T>(message: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(message);
    throw err;
  }
}

/** A secret given by the caller must be one: an empty one would let anyone sign (an HMAC keyed with "" is public). */
export function assertSecretGiven(secret: string | undefined, what: string): void {
  if (secret !== undefined && secret.trim() === '') throw new InputError(`${what} is empty: give a secret, or leave it out for a random one`);
}
