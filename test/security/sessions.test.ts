// Attacks on the web UI's session cookie: one read off a browser (or a log of
// headers) must not be the API token itself, must end at logout or when its
// token is revoked, and must never travel in the clear after an HTTPS login.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken, revokeToken } from '../../scheduler/index.ts';
import { startForgeline, type TestForgeline } from '../helpers/forgeline.ts';

describe('UI sessions under attack', () => {
  let forgeline: TestForgeline;
  beforeAll(async () => { forgeline = await startForgeline({ workers: 0, env: { FORGELINE_PUBLIC_READ: 'false', FORGELINE_TRUSTED_PROXIES: '127.0.0.1/32' } }); });
  afterAll(() => forgeline?.stop());

  const login = async (token: string, proto?: string) => {
    const res = await fetch(`${forgeline.url}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(proto ? { 'x-forwarded-proto': proto } : {}) },
      body: new URLSearchParams({ token, next: '/' }).toString(),
    });
    return res.headers.get('set-cookie')!;
  };
  const asCookie = (setCookie: string) => setCookie.split(';')[0]!;
  const runs = (cookie: string) => fetch(`${forgeline.url}/api/runs`, { headers: { cookie } }).then((r) => r.status);

  it('keeps a random session id in the cookie, never the token, and ends it at logout', async () => {
    const { token } = await addToken(forgeline.runtime.db.pool, 'browser', 'read', 'test');
    const setCookie = await login(token);
    expect(setCookie).toMatch(/^forgeline_session=[A-Za-z0-9_-]{43}; /);
    expect(setCookie).not.toContain(token);
    expect(setCookie).toMatch(/httponly/i);
    expect(setCookie).toMatch(/samesite=strict/i);
    expect(setCookie).not.toMatch(/secure/i);
    const cookie = asCookie(setCookie);
    expect(await runs(cookie)).toBe(200);
    // The token itself in the cookie is no session.
    expect(await runs(`forgeline_session=${token}`)).toBe(401);
    await fetch(`${forgeline.url}/logout`, { headers: { cookie }, redirect: 'manual' });
    expect(await runs(cookie)).toBe(401);
  });

  it('ends every session of a revoked token', async () => {
    const { token } = await addToken(forgeline.runtime.db.pool, 'leaver', 'read', 'test');
    const cookie = asCookie(await login(token));
    expect(await runs(cookie)).toBe(200);
    await revokeToken(forgeline.runtime.db.pool, 'leaver', 'test');
    expect(await runs(cookie)).toBe(401);
  });

  it('marks the cookie Secure when the login came over HTTPS through the trusted proxy', async () => {
    const { token } = await addToken(forgeline.runtime.db.pool, 'secure', 'read', 'test');
    expect(await login(token, 'https')).toMatch(/;\s*secure/i);
    expect(await login(token, 'http')).not.toMatch(/secure/i);
  });
});
