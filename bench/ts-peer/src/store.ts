// D1 (binding DB, schema.sql) and the KV denylist (binding DENYLIST): the statements the
// worker's src/edge/d1.rs makes on the peer's routes, word for word, each operation one batch
// (one transaction, one round trip); and the denylist entries of src/edge/kv.rs.

import type { D1Handle, D1PreparedStatement, D1Result, Env, KVNamespace } from "./env";
import { unavailable } from "./errors";
import type { Issued } from "./tokens";

const KEPT_EVENTS_PER_USER = 1000;
/** KV refuses an expirationTtl below 60 seconds. */
const KV_MIN_TTL_SECONDS = 60;

const USER =
  "SELECT id, email, username, first_name, last_name, password, is_active, email_verified, tokens_valid_after, last_login, EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = users.id) AS mfa FROM users";

const ADOPT =
  "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) SELECT ?1, ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2) ON CONFLICT (jti) DO NOTHING";

export interface UserRow {
  id: number;
  email: string;
  username: string;
  password: string;
  is_active: number;
  email_verified: number;
  tokens_valid_after: number;
  mfa: number;
}

export interface Client {
  ip: string;
  country: string;
  userAgent: string;
}

/** A presented refresh token, as storage needs it. */
export interface Presented {
  jti: string;
  userId: number;
  /** 0 when the token has no iat. */
  iat: number;
  exp: number;
}

export interface TokenState {
  used_at: number | null;
  revoked_at: number | null;
  family: string;
  started_at: number | null;
  active: number | null;
  valid_after: number | null;
}

export interface Counted {
  failures: number;
  window_start: number;
}

export interface Buckets {
  account: string;
  client: string | undefined;
}

export interface RevokedToken {
  jti: string;
  expires_at: number;
  used_at: number | null;
}

export class Store {
  private readonly handle: D1Handle;

  /** `replica`: reads that may lag, from the nearest replica (Sessions API). */
  constructor(env: Env, replica = false) {
    this.handle = replica ? env.DB.withSession("first-unconstrained") : env.DB;
  }

  private statement(sql: string, ...params: unknown[]): D1PreparedStatement {
    return this.handle.prepare(sql).bind(...params);
  }

  /** One transaction; a batch refused because the database was busy is retried a few times. */
  private async batch(operation: string, statements: D1PreparedStatement[]): Promise<D1Result[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.handle.batch(statements);
      } catch (error) {
        const message = String((error as Error).message ?? error);
        if (attempt < 3 && message.includes("SQLITE_BUSY")) {
          await new Promise((resolve) => setTimeout(resolve, 25 * (attempt + 1)));
          continue;
        }
        throw unavailable(`storage failure during ${operation}: ${message}`);
      }
    }
  }

  private async query<T>(operation: string, statement: D1PreparedStatement): Promise<T[]> {
    const [result] = await this.batch(operation, [statement]);
    return (result?.results ?? []) as T[];
  }

  private adopt(token: Presented): D1PreparedStatement {
    return this.statement(ADOPT, token.jti, token.userId, token.exp);
  }

  private eventStatements(userId: number, event: string, at: number, client: Client): D1PreparedStatement[] {
    return [
      this.statement(
        "INSERT INTO security_events (user_id, event, at, ip, country, user_agent) SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE 1",
        userId,
        event,
        at,
        client.ip,
        client.country,
        client.userAgent,
      ),
      this.statement(
        "DELETE FROM security_events WHERE user_id = ?1 AND id <= ( SELECT id FROM security_events WHERE user_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        userId,
        KEPT_EVENTS_PER_USER,
      ),
    ];
  }

  private releaseStatements(buckets: Buckets): D1PreparedStatement[] {
    const client = buckets.client ?? buckets.account;
    return [
      this.statement(
        "UPDATE login_failures SET failures = failures - 1 WHERE bucket IN (?1, ?2)",
        buckets.account,
        client,
      ),
      this.statement("DELETE FROM login_failures WHERE bucket IN (?1, ?2) AND failures <= 0", buckets.account, client),
    ];
  }

  async userById(id: number): Promise<UserRow | undefined> {
    return (await this.query<UserRow>("user lookup", this.statement(`${USER} WHERE id = ?1`, id)))[0];
  }

  /** Whether the session `sid` of the user still has a live refresh token. */
  async sessionLive(userId: number, sid: string | undefined, now: number): Promise<boolean> {
    const rows = await this.query<{ session_live: number }>(
      "introspection",
      this.statement(
        `SELECT *, (?2 IS NULL OR EXISTS (SELECT 1 FROM refresh_tokens WHERE family = ?2 AND user_id = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?4)) AS session_live, (?3 IS NULL OR EXISTS (SELECT 1 FROM refresh_tokens WHERE jti = ?3 AND used_at IS NULL AND revoked_at IS NULL)) AS token_live FROM (${USER} WHERE id = ?1)`,
        userId,
        sid ?? null,
        null,
        now,
      ),
    );
    return rows[0]?.session_live === 1;
  }

  /** Reserves a failure in each bucket and reads the user, in one transaction. */
  async beginLogin(
    buckets: Buckets,
    window: number,
    now: number,
    email: string,
  ): Promise<{ counted: Counted[]; user: UserRow | undefined }> {
    const keys = [buckets.account, ...(buckets.client === undefined ? [] : [buckets.client])];
    const statements = keys.map((bucket) =>
      this.statement(
        "INSERT INTO login_failures (bucket, window_start, failures) VALUES (?1, ?2, 1) ON CONFLICT (bucket) DO UPDATE SET failures = CASE WHEN window_start + ?3 <= ?2 THEN 1 ELSE failures + 1 END, window_start = CASE WHEN window_start + ?3 <= ?2 THEN ?2 ELSE window_start END RETURNING failures, window_start",
        bucket,
        now,
        window,
      ),
    );
    statements.push(this.statement(`${USER} WHERE email = ?1 COLLATE NOCASE`, email));
    const results = await this.batch("login", statements);
    const counted = results.slice(0, keys.length).map((result) => {
      const row = result.results[0] as Counted | undefined;
      if (!row) throw unavailable("storage failure during login throttling: the statement returned no row");
      return row;
    });
    return { counted, user: results[keys.length]?.results[0] as UserRow | undefined };
  }

  async releaseFailures(buckets: Buckets): Promise<void> {
    await this.batch("login throttling", this.releaseStatements(buckets));
  }

  async recordEvent(userId: number, event: string, at: number, client: Client): Promise<void> {
    await this.batch("security event", this.eventStatements(userId, event, at, client));
  }

  /** Records a new login (its first refresh token and its session) and applies the session cap. */
  async recordLogin(record: {
    user: UserRow;
    refresh: Issued;
    buckets: Buckets;
    client: Client;
    stampLastLogin: boolean;
    rehash: string | undefined;
    maxSessions: number;
  }): Promise<RevokedToken[]> {
    const { user, refresh, client } = record;
    const statements = [
      this.statement(
        "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) VALUES (?1, ?1, ?2, ?3)",
        refresh.jti,
        user.id,
        refresh.exp,
      ),
      this.statement(
        "INSERT INTO sessions (id, user_id, created_at, user_agent, ip, country, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT COALESCE(MAX(seq), 0) + 1 FROM sessions WHERE user_id = ?2))",
        refresh.jti,
        user.id,
        refresh.iat,
        client.userAgent,
        client.ip,
        client.country,
      ),
      this.statement(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at IS NULL AND family IN ( SELECT family FROM refresh_tokens WHERE user_id = ?1 AND family != ?3 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2 ORDER BY expires_at DESC, jti LIMIT -1 OFFSET ?4) RETURNING jti, expires_at, used_at",
        user.id,
        refresh.iat,
        refresh.jti,
        Math.max(record.maxSessions - 1, 0),
      ),
      ...this.releaseStatements(record.buckets),
      ...this.eventStatements(user.id, "login", refresh.iat, client),
    ];
    if (record.stampLastLogin) {
      statements.push(
        this.statement("UPDATE users SET last_login = datetime(?2, 'unixepoch') WHERE id = ?1", user.id, refresh.iat),
      );
    }
    if (record.rehash !== undefined) {
      statements.push(
        this.statement(
          "UPDATE users SET password = ?2 WHERE id = ?1 AND password = ?3",
          user.id,
          record.rehash,
          user.password,
        ),
      );
    }
    const results = await this.batch("login", statements);
    return (results[2]?.results ?? []) as unknown as RevokedToken[];
  }

  /** Single use: true when this call consumed `old` and recorded `successor`. */
  async rotate(old: Presented, successor: Issued, startedAfter: number, now: number): Promise<boolean> {
    const results = await this.batch("rotation", [
      this.adopt(old),
      this.statement(
        "INSERT INTO sessions (id, user_id, created_at) SELECT family, user_id, ?2 FROM refresh_tokens WHERE jti = ?1 ON CONFLICT (id) DO NOTHING",
        old.jti,
        now,
      ),
      this.statement(
        "UPDATE refresh_tokens SET used_at = ?2, successor = ?3 WHERE jti = ?1 AND used_at IS NULL AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM users WHERE id = refresh_tokens.user_id AND is_active = 1 AND tokens_valid_after <= ?5) AND (SELECT created_at FROM sessions WHERE id = refresh_tokens.family) > ?4 RETURNING jti",
        old.jti,
        now,
        successor.jti,
        startedAfter,
        old.iat,
      ),
      this.statement(
        "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) SELECT ?2, family, user_id, ?3 FROM refresh_tokens WHERE jti = ?1 AND successor = ?2",
        old.jti,
        successor.jti,
        successor.exp,
      ),
      this.statement(
        "UPDATE sessions SET refreshed_at = ?3 WHERE id = (SELECT family FROM refresh_tokens WHERE jti = ?1 AND successor = ?2)",
        old.jti,
        successor.jti,
        now,
      ),
    ]);
    return (results[2]?.results.length ?? 0) > 0;
  }

  /** The token's row (recorded first if this database has none) and its user's state. */
  async tokenState(token: Presented): Promise<TokenState> {
    const results = await this.batch("token state", [
      this.adopt(token),
      this.statement(
        "SELECT used_at, revoked_at, family, (SELECT created_at FROM sessions WHERE id = refresh_tokens.family) AS started_at, (SELECT is_active FROM users WHERE id = refresh_tokens.user_id) AS active, (SELECT tokens_valid_after FROM users WHERE id = refresh_tokens.user_id) AS valid_after FROM refresh_tokens WHERE jti = ?1",
        token.jti,
      ),
    ]);
    const row = results[1]?.results[0] as TokenState | undefined;
    return (
      row ?? { used_at: null, revoked_at: null, family: token.jti, started_at: null, active: null, valid_after: 0 }
    );
  }

  async revokeFamily(family: string, now: number): Promise<RevokedToken[]> {
    return this.query<RevokedToken>(
      "family revocation",
      this.statement(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family = ?1 AND revoked_at IS NULL RETURNING jti, expires_at, used_at",
        family,
        now,
      ),
    );
  }
}

/** The KV copy of what D1 decided: `used:<epoch>` or `revoked`, expiring with the token. */
export class Denylist {
  private readonly kv: KVNamespace;

  constructor(env: Env) {
    this.kv = env.DENYLIST;
  }

  async get(jti: string): Promise<string | null> {
    try {
      return await this.kv.get(jti);
    } catch (error) {
      throw unavailable(`storage failure during denylist read: ${(error as Error).message}`);
    }
  }

  /** Writes each entry; a failure is logged and swallowed: D1 already decided. */
  async publish(entries: { jti: string; exp: number; value: string }[], now: number): Promise<void> {
    await Promise.all(
      entries.map(({ jti, exp, value }) =>
        this.kv
          .put(jti, value, { expirationTtl: Math.max(exp - now, KV_MIN_TTL_SECONDS) })
          .catch((error: Error) =>
            console.error(`storage failure during denylist write: ${error.message}; D1 keeps deciding`),
          ),
      ),
    );
  }

  /** Publishes what the store just revoked (used tokens are on the denylist since their rotation). */
  async publishRevoked(revoked: RevokedToken[], now: number): Promise<void> {
    const entries = revoked
      .filter((token) => token.used_at === null)
      .map((token) => ({ jti: token.jti, exp: token.expires_at, value: "revoked" }));
    if (entries.length > 0) await this.publish(entries, now);
  }
}
