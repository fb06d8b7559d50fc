import pg from 'pg';

/** Stops one subscription. */
export interface ListenHandle {
  close(): Promise<void>;
}

/**
 * A process's own PostgreSQL session, on one connection outside the pool:
 * every LISTEN of the process (pg-boss's wake-ups, the workers' cancel
 * channel) and its session locks. A lock held on a pooled connection would
 * hold that connection for as long, and with a small pool the holders could
 * wait forever for one another; here a lock costs no connection, and a
 * process that dies releases its locks with its session.
 *
 * After a failure it reconnects, with a backoff up to 5 s, listens again to
 * every channel and tells each subscriber (a notification may have been
 * missed meanwhile). Locks do not survive a lost connection: the database
 * releases them, as it would for a process that died.
 */
export interface Session {
  listen(channel: string, onNotification: (payload: string) => void, onReconnect?: () => void): Promise<ListenHandle>;
  /** Takes the session lock named `key` when no one holds it, in this process or another; answers whether it did. */
  tryLock(key: string): Promise<boolean>;
  unlock(key: string): Promise<void>;
  close(): Promise<void>;
}

interface Subscriber {
  channel: string;
  onNotification: (payload: string) => void;
  onReconnect?: () => void;
}

const quoted = (channel: string) => `"${channel.replace(/"/g, '""')}"`;

export function createSession(url: string): Session {
  const subscribers = new Set<Subscriber>();
  // Session locks are re-entrant within a session: this process's own holders are told apart here.
  const held = new Set<string>();
  let client: pg.Client | null = null;
  let connecting: Promise<pg.Client> | null = null;
  let closed = false;
  let backoff = 250;
  let retry: NodeJS.Timeout | null = null;

  const channels = () => new Set([...subscribers].map((s) => s.channel));
  // One statement at a time on the connection (pg queues them, but warns that it will stop).
  let turn: Promise<unknown> = Promise.resolve();
  function serially<T>(fn: () => Promise<T>): Promise<T> {
    const mine = turn.then(fn, fn);
    turn = mine.catch(() => {});
    return mine;
  }

  async function open(): Promise<pg.Client> {
    // Keepalives from 10 s on: a connection that died without a word (a cut network) is found in seconds, not hours.
    const next = new pg.Client({ connectionString: url, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    next.on('notification', (message) => {
      for (const s of subscribers) if (s.channel === message.channel) s.onNotification(message.payload ?? '');
    });
    next.on('error', () => lost(next));
    next.on('end', () => lost(next));
    await next.connect();
    for (const channel of channels()) await next.query(`LISTEN ${quoted(channel)}`);
    return next;
  }

  function lost(which: pg.Client): void {
    if (client !== which) return;
    client = null;
    which.end().catch(() => {});
    if (!closed) schedule();
  }

  function schedule(): void {
    if (retry || closed) return;
    retry = setTimeout(() => {
      retry = null;
      connect().then(() => {
        backoff = 250;
        for (const s of subscribers) s.onReconnect?.();
      }, () => {
        backoff = Math.min(5000, backoff * 2);
        schedule();
      });
    }, backoff);
  }

  function connect(): Promise<pg.Client> {
    if (client) return Promise.resolve(client);
    connecting ??= open().then((c) => {
      if (closed) {
        c.end().catch(() => {});
        throw new Error('the listener is closed');
      }
      client = c;
      return c;
    }).finally(() => { connecting = null; });
    return connecting;
  }

  return {
    async listen(channel, onNotification, onReconnect) {
      const subscriber: Subscriber = { channel, onNotification, onReconnect };
      const isNew = !channels().has(channel);
      subscribers.add(subscriber);
      try {
        const c = await connect();
        if (isNew) await serially(() => c.query(`LISTEN ${quoted(channel)}`));
      } catch (err) {
        subscribers.delete(subscriber);
        throw err;
      }
      return {
        async close() {
          subscribers.delete(subscriber);
          const c = client;
          if (c && !channels().has(channel)) await serially(() => c.query(`UNLISTEN ${quoted(channel)}`)).catch(() => {});
        },
      };
    },
    async tryLock(key) {
      if (held.has(key)) return false;
      held.add(key);
      try {
        const c = await connect();
        const { rows } = await serially(() => c.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [key]));
        if (!rows[0]!.locked) held.delete(key);
        return rows[0]!.locked;
      } catch (err) {
        held.delete(key);
        throw err;
      }
    },
    async unlock(key) {
      if (!held.delete(key)) return;
      // A connection lost since took the lock with it.
      const c = client;
      if (c) await serially(() => c.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key])).catch(() => {});
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      subscribers.clear();
      held.clear();
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
