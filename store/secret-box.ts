import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Encrypts secrets at rest (AES-256-GCM) with FORGELINE_SECRET_KEY or a key kept in the data dir. */
export interface SecretBox {
  /** With `bound`, the ciphertext opens only with the same `bound` (AES-GCM's additional data): it cannot be moved to another row. */
  seal(plain: string, bound?: string): string;
  /** A ciphertext sealed with `bound` opens only with it; one sealed without (v1) only without. */
  open(sealed: string, bound?: string): string;
}

export function secretBox(keyMaterial: string): SecretBox {
  // Any string works as a key: it is hashed to the 32 bytes AES-256 needs.
  const key = createHash('sha256').update(keyMaterial).digest();
  return {
    seal(plain, bound) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      if (bound !== undefined) cipher.setAAD(Buffer.from(bound, 'utf8'));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${bound === undefined ? 'v1' : 'v2'}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
    },
    open(sealed, bound) {
      const version = sealed.slice(0, 3);
      if (version !== (bound === undefined ? 'v1:' : 'v2:')) throw new Error(bound === undefined ? 'not a sealed secret' : 'a secret sealed for another place');
      const raw = Buffer.from(sealed.slice(3), 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      if (bound !== undefined) decipher.setAAD(Buffer.from(bound, 'utf8'));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}

/** The key: FORGELINE_SECRET_KEY when set, else `secret.key` in the data dir, generated once. */
export async function loadSecretKey(dataDir: string, fromEnv: string | undefined): Promise<string> {
  if (fromEnv) return fromEnv;
  const file = path.resolve(dataDir, 'secret.key');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  await mkdir(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64url');
  await writeFile(file, key, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return (await readFile(file, 'utf8')).trim();
}
