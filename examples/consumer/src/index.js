// A Worker that protects `GET /protected` with edge-auth, reached through the service
// binding AUTH (no public network, no extra hop outside Cloudflare).
//
// It asks edge-auth itself: POST /token/verify/ through the binding. One place decides what
// a valid token is (algorithm, key, expiry, issuer, audience, revocations of refresh
// tokens), key rotation needs nothing here, and the call stays inside Cloudflare. Verify
// answers 200 for refresh tokens too, so this Worker also requires `token_type: "access"`,
// read from the payload only after edge-auth has vouched for the signature.

const UNAUTHORIZED = { detail: "Authentication credentials were not provided." };

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function unauthorized(body = UNAUTHORIZED) {
  return json(401, body, { "www-authenticate": 'Bearer realm="api"' });
}

/** The bearer token of the request, or null. */
function bearerToken(request) {
  const words = (request.headers.get("authorization") ?? "").split(/\s+/).filter(Boolean);
  return words.length === 2 && words[0] === "Bearer" ? words[1] : null;
}

/** The verified access token's claims, or null. */
async function verifiedAccessClaims(env, token) {
  const reply = await env.AUTH.fetch("https://edge-auth/token/verify/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  if (reply.status !== 200) return null;
  const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  return payload.token_type === "access" ? payload : null;
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname !== "/protected") return json(404, { detail: "Not found." });
    const token = bearerToken(request);
    if (!token) return unauthorized();
    const claims = await verifiedAccessClaims(env, token);
    if (!claims) return unauthorized({ detail: "Token is invalid or expired" });
    return json(200, { message: `Hello, user ${claims.user_id}`, user_id: claims.user_id });
  },
};
