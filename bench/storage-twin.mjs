// The storage twin of `make bench`: the platform's share of a request. A JavaScript worker
// that makes the same D1 and KV calls as the endpoints of the worker and of the TypeScript peer
// (bench/ts-peer) and nothing else, on the same local D1 and KV. Locally D1 and KV are simulated
// inside the workerd process (JavaScript plus SQLite), so its CPU time counts work that runs on
// other machines in production; subtracting the twin's CPU time from the worker's or the
// peer's leaves each one's own.
//
// Its paths name the storage calls it makes:
//   /dashboard          one read of the user from the nearest replica
//   /refresh-rotation   the rotation batch, then the used token's KV entry in waitUntil; the
//                       body's `refresh` is the jti to rotate, the answer's `refresh` its successor
//   /refresh            the token's state (adopt + read): a refresh without rotation
//   /verify             none (an access token's verification)
//   /login              the throttle reservation with the user's read, then the login's record
const USER =
  "SELECT id, email, username, first_name, last_name, password, is_active, email_verified, tokens_valid_after, last_login, EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = users.id) AS mfa FROM users";
const ADOPT =
  "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) SELECT ?1, ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2) ON CONFLICT (jti) DO NOTHING";
const USER_ID = 1;
const REFRESH_LIFETIME = 86400;
// Answers about the size of the real ones (two tokens are about 700 bytes).
const TOKEN = "x".repeat(330);
const newJti = () => crypto.randomUUID().replaceAll("-", "");
const now = () => Math.floor(Date.now() / 1000);

async function rotation(env, ctx, old) {
  const t = now();
  const successor = newJti();
  const [, , won] = await env.DB.batch([
    env.DB.prepare(ADOPT).bind(old, USER_ID, t + REFRESH_LIFETIME),
    env.DB.prepare(
      "INSERT INTO sessions (id, user_id, created_at) SELECT family, user_id, ?2 FROM refresh_tokens WHERE jti = ?1 ON CONFLICT (id) DO NOTHING",
    ).bind(old, t),
    env.DB.prepare(
      "UPDATE refresh_tokens SET used_at = ?2, successor = ?3 WHERE jti = ?1 AND used_at IS NULL AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM users WHERE id = refresh_tokens.user_id AND is_active = 1 AND tokens_valid_after <= ?5) AND (SELECT created_at FROM sessions WHERE id = refresh_tokens.family) > ?4 RETURNING jti",
    ).bind(old, t, successor, t - 2592000, t),
    env.DB.prepare(
      "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) SELECT ?2, family, user_id, ?3 FROM refresh_tokens WHERE jti = ?1 AND successor = ?2",
    ).bind(old, successor, t + REFRESH_LIFETIME),
    env.DB.prepare(
      "UPDATE sessions SET refreshed_at = ?3 WHERE id = (SELECT family FROM refresh_tokens WHERE jti = ?1 AND successor = ?2)",
    ).bind(old, successor, t),
  ]);
  if (won.results.length !== 1) return Response.json({ detail: "not rotated" }, { status: 401 });
  ctx.waitUntil(env.DENYLIST.put(old, `used:${t}`, { expirationTtl: REFRESH_LIFETIME }));
  return Response.json({ access: TOKEN, refresh: successor });
}

async function login(env) {
  const t = now();
  const upsert = (bucket) =>
    env.DB.prepare(
      "INSERT INTO login_failures (bucket, window_start, failures) VALUES (?1, ?2, 1) ON CONFLICT (bucket) DO UPDATE SET failures = CASE WHEN window_start + ?3 <= ?2 THEN 1 ELSE failures + 1 END, window_start = CASE WHEN window_start + ?3 <= ?2 THEN ?2 ELSE window_start END RETURNING failures, window_start",
    ).bind(bucket, t, 300);
  const buckets = ["a:storage-twin", "c:storage-twin"];
  const [, , user] = await env.DB.batch([
    ...buckets.map(upsert),
    env.DB.prepare(`${USER} WHERE email = ?1 COLLATE NOCASE`).bind("bench@example.com"),
  ]);
  const id = user.results[0].id;
  const jti = newJti();
  await env.DB.batch([
    env.DB.prepare("INSERT INTO refresh_tokens (jti, family, user_id, expires_at) VALUES (?1, ?1, ?2, ?3)").bind(
      jti,
      id,
      t + REFRESH_LIFETIME,
    ),
    env.DB.prepare(
      "INSERT INTO sessions (id, user_id, created_at, user_agent, ip, country, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT COALESCE(MAX(seq), 0) + 1 FROM sessions WHERE user_id = ?2))",
    ).bind(jti, id, t, "", "127.0.0.1", ""),
    env.DB.prepare(
      "UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at IS NULL AND family IN ( SELECT family FROM refresh_tokens WHERE user_id = ?1 AND family != ?3 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2 ORDER BY expires_at DESC, jti LIMIT -1 OFFSET ?4) RETURNING jti, expires_at, used_at",
    ).bind(id, t, jti, 99),
    env.DB.prepare("UPDATE login_failures SET failures = failures - 1 WHERE bucket IN (?1, ?2)").bind(...buckets),
    env.DB.prepare("DELETE FROM login_failures WHERE bucket IN (?1, ?2) AND failures <= 0").bind(...buckets),
    env.DB.prepare(
      "INSERT INTO security_events (user_id, event, at, ip, country, user_agent) SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE 1",
    ).bind(id, "login", t, "127.0.0.1", "", ""),
    env.DB.prepare(
      "DELETE FROM security_events WHERE user_id = ?1 AND id <= ( SELECT id FROM security_events WHERE user_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    ).bind(id, 1000),
  ]);
  return Response.json({ refresh: TOKEN, access: TOKEN });
}

export default {
  async fetch(request, env, ctx) {
    const body = await request.text();
    const path = new URL(request.url).pathname;
    if (path === "/dashboard") {
      const replica = env.DB.withSession("first-unconstrained");
      const [user] = await replica.batch([replica.prepare(`${USER} WHERE id = ?1`).bind(USER_ID)]);
      return Response.json({ response: `Hey${user.results[0].username}, you are seeing GET response` });
    }
    if (path === "/refresh-rotation") return rotation(env, ctx, JSON.parse(body).refresh);
    if (path === "/refresh") {
      const jti = "0f5e3c2a9b8d4e6f8a1b2c3d4e5f6a7b";
      const [, state] = await env.DB.batch([
        env.DB.prepare(ADOPT).bind(jti, USER_ID, now() + REFRESH_LIFETIME),
        env.DB.prepare(
          "SELECT used_at, revoked_at, family, (SELECT created_at FROM sessions WHERE id = refresh_tokens.family) AS started_at, (SELECT is_active FROM users WHERE id = refresh_tokens.user_id) AS active, (SELECT tokens_valid_after FROM users WHERE id = refresh_tokens.user_id) AS valid_after FROM refresh_tokens WHERE jti = ?1",
        ).bind(jti),
      ]);
      return Response.json({ access: TOKEN.slice(state.results.length) });
    }
    if (path === "/verify") return Response.json({});
    if (path === "/login") return login(env);
    return Response.json({ detail: "Not found." }, { status: 404 });
  },
};
