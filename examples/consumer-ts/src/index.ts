// A Worker that protects `GET /protected` and `GET /me` with edge-auth, reached through the
// service binding AUTH to its named entrypoint `AuthService`: no public network, no extra hop
// outside Cloudflare, no secret.
//
// It calls edge-auth's RPC methods. `verify(token)` answers what RFC 7662 introspection would:
// one place decides what a valid token is (signature, expiry, issuer, audience, and whether
// its login was revoked, which a JWKS check alone cannot see). `user(token)` answers the
// token's user. `/auth/*` is forwarded to edge-auth's HTTP API (`/auth/token/` logs in).

/** edge-auth's answer for an active token; `{ active: false }` for anything else. */
type Introspection =
  | { active: false }
  | {
      active: true;
      token_type: "access" | "refresh";
      sub: string;
      user_id: number;
      username: string;
      exp: number;
      iat: number | null;
      jti: string;
      sid: string | null;
      iss?: string;
      aud?: string;
    };

interface User {
  pk: number;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
}

/** The binding: `AuthService`, edge-auth's named entrypoint, its RPC methods and its HTTP API. */
interface AuthService {
  verify(token: string): Promise<Introspection>;
  user(token: string): Promise<User | null>;
  fetch(request: Request): Promise<Response>;
}

interface Env {
  AUTH: AuthService;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function unauthorized(detail = "Authentication credentials were not provided."): Response {
  return json(401, { detail }, { "www-authenticate": 'Bearer realm="api"' });
}

/** The bearer token of the request, or null. */
function bearerToken(request: Request): string | null {
  const words = (request.headers.get("authorization") ?? "").split(/\s+/).filter(Boolean);
  return words.length === 2 && words[0] === "Bearer" ? (words[1] ?? null) : null;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/auth/")) {
      const target = new URL(url.pathname.slice("/auth".length) + url.search, "https://edge-auth");
      return env.AUTH.fetch(new Request(target, request));
    }
    if (url.pathname !== "/protected" && url.pathname !== "/me") return json(404, { detail: "Not found." });
    const token = bearerToken(request);
    if (!token) return unauthorized();
    if (url.pathname === "/me") {
      const user = await env.AUTH.user(token);
      return user ? json(200, user) : unauthorized("Token is invalid or expired");
    }
    const token_info = await env.AUTH.verify(token);
    if (!token_info.active || token_info.token_type !== "access") return unauthorized("Token is invalid or expired");
    return json(200, { message: `Hello, ${token_info.username}`, user_id: token_info.user_id });
  },
};
