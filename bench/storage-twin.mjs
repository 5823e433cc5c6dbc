// The storage twin of `make bench`: the platform's share of a request. A JavaScript worker
// that makes the same D1 and KV calls as the worker's endpoints and nothing else, on the same
// local D1 and KV. Locally D1 and KV are simulated inside the workerd process (JavaScript plus
// SQLite), so its CPU time counts work that runs on other machines in production; subtracting
// the twin's CPU time from the worker's leaves the worker's own.
export default {
  async fetch(request, env) {
    await request.arrayBuffer();
    const path = new URL(request.url).pathname;
    if (path === "/api/dashboard/") {
      const { results } = await env.DB.withSession("first-unconstrained")
        .prepare("SELECT id, username, password, is_active FROM users WHERE id = ?1")
        .bind(1)
        .all();
      return Response.json({ response: `Hey${results[0].username}, you are seeing GET response` });
    }
    if (path === "/api/token/refresh/") {
      const jti = "0f5e3c2a9b8d4e6f8a1b2c3d4e5f6a7b";
      await env.DENYLIST.get(jti);
      const [, state] = await env.DB.batch([
        env.DB.prepare(
          "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) VALUES (?1, ?1, ?2, ?3) ON CONFLICT (jti) DO NOTHING",
        ).bind(jti, 1, 4102444800),
        env.DB.prepare(
          "SELECT used_at, revoked_at, family, (SELECT is_active FROM users WHERE id = refresh_tokens.user_id) AS active FROM refresh_tokens WHERE jti = ?1",
        ).bind(jti),
      ]);
      return Response.json({ access: String(state.results.length) });
    }
    return Response.json({ access: "", refresh: "" });
  },
};
