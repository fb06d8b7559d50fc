// A process's own PostgreSQL session (store/session.ts): session locks that
// cost no pooled connection, and LISTEN that survives a lost connection.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSession, type Session } from '../store/index.ts';
import { freshDatabase, type TestDatabase } from './helpers/database.ts';
import { waitFor } from './helpers/forgeline.ts';

let database: TestDatabase;
let admin: pg.Client;
const sessions: Session[] = [];
const open = () => {
  const s = createSession(database.url);
  sessions.push(s);
  return s;
};

beforeAll(async () => {
  database = await freshDatabase();
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
});

afterAll(async () => {
  for (const s of sessions) await s.close();
  await admin?.end();
  await database?.drop();
});

it('lets one holder at a time take a lock, in this process or another, and frees it with a lost session', async () => {
  const [a, b] = [open(), open()];
  expect(await a.tryLock('report:1')).toBe(true);
  // A second holder in the same process is refused, though PostgreSQL's session locks are re-entrant.
  expect(await a.tryLock('report:1')).toBe(false);
  expect(await b.tryLock('report:1')).toBe(false);
  expect(await b.tryLock('report:2')).toBe(true);
  await a.unlock('report:1');
  expect(await b.tryLock('report:1')).toBe(true);
  await b.unlock('report:1');
  await b.unlock('report:2');

  // A process whose connection is gone holds nothing: the database released its locks.
  expect(await a.tryLock('report:3')).toBe(true);
  // Only in this file's database: test files run side by side on one server, and a migration holds an advisory lock too.
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  await waitFor(async () => ((await b.tryLock('report:3')) ? true : undefined), 'the lock of the lost session to be free', 10_000);
});

it('keeps listening after its connection is cut, and says so to each subscriber', async () => {
  const s = open();
  const heard: string[] = [];
  let reconnects = 0;
  await s.listen('forgeline_test_channel', (payload) => heard.push(payload), () => reconnects++);
  await admin.query(`SELECT pg_notify('forgeline_test_channel', 'one')`);
  await waitFor(async () => (heard.includes('one') ? true : undefined), 'the first notification', 5000);

  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN "forgeline_test_channel"%' AND pid <> pg_backend_pid()`);
  await waitFor(async () => (reconnects > 0 ? true : undefined), 'the reconnect', 10_000);
  await admin.query(`SELECT pg_notify('forgeline_test_channel', 'two')`);
  await waitFor(async () => (heard.includes('two') ? true : undefined), 'a notification after the reconnect', 5000);
  expect(heard).toEqual(['one', 'two']);
});
