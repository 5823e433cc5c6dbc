// edge-auth browser client: register, login (with the MFA step), logout, the account routes,
// and `authFetch`, which attaches the access token and refreshes it at most once per refresh
// token, across concurrent calls of one page (single flight) and across tabs of one origin
// (Web Locks + BroadcastChannel).
import type {
  ClientEvents,
  ClientOptions,
  Detail,
  Empty,
  ErrorBody,
  LoginResult,
  LoginSuccess,
  LogoutReason,
  RefreshedTokens,
  Registered,
  RegisterRequest,
  Session,
  Tokens,
  TokenStorage,
  User,
  UserPatch,
} from "./types.js";

export type * from "./types.js";

/** The name of the Web Lock every tab of an origin takes around a refresh. */
export const REFRESH_LOCK = "edge-auth-refresh";
/** The BroadcastChannel that carries refreshed tokens and logouts between tabs. */
export const CHANNEL = "edge-auth";

/** An answer of the server that was not a success: its status and its JSON body. */
export class ApiError extends Error {
  readonly status: number;
  readonly body: ErrorBody;

  constructor(status: number, body: ErrorBody, message?: string) {
    super(message ?? describe(status, body));
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

function describe(status: number, body: ErrorBody): string {
  if (body && typeof (body as { detail?: unknown }).detail === "string") {
    return `${status}: ${(body as { detail: string }).detail}`;
  }
  return body ? `${status}: ${JSON.stringify(body)}` : `HTTP ${status}`;
}

/** What tabs tell each other. `spent` is the refresh token that was used or refused. */
type TabMessage = { type: "tokens"; spent: string; tokens: Tokens } | { type: "logout"; spent: string };

function memoryStorage(): TokenStorage {
  const values = new Map<string, string>();
  return {
    get: (key) => values.get(key) ?? null,
    set: (key, value) => {
      values.set(key, value);
    },
    remove: (key) => {
      values.delete(key);
    },
  };
}

function isTokens(value: unknown): value is Tokens {
  const v = value as Partial<Tokens> | null;
  return typeof v?.access === "string" && typeof v.refresh === "string";
}

export interface Client {
  /** `POST /register/`: 201 `{email, username}`; log in afterwards. */
  register(body: RegisterRequest): Promise<Registered>;
  /** `POST /login/`: stores the tokens, or returns `{ephemeral_token, mfa_required}` for `verifyMfa`. */
  login(email: string, password: string): Promise<LoginResult>;
  /** `POST /mfa/verify/` with the login's ephemeral token and a TOTP or recovery code. */
  verifyMfa(ephemeralToken: string, code: string): Promise<LoginSuccess>;
  /** `POST /logout/` with the refresh token (revokes this login), then forgets the tokens. */
  logout(): Promise<void>;
  /**
   * `POST /token/refresh/` now, as `authFetch` does on a 401 and under the same guarantees: one
   * refresh per refresh token across concurrent calls and tabs; a refused refresh forgets the
   * tokens and rejects with `ApiError` 401. Resolves to the tokens held afterwards. Without
   * tokens it rejects with `ApiError` 401 and sends nothing.
   */
  refresh(): Promise<Tokens>;
  /** `GET /user/`. */
  user(): Promise<User>;
  /** `PATCH /user/`. */
  updateUser(patch: UserPatch): Promise<User>;
  /** `POST /password/change/`; every login of the user ends, so the tokens are forgotten. */
  changePassword(oldPassword: string, newPassword1: string, newPassword2: string): Promise<Detail>;
  /** `POST /password/reset/`: always 200 for a valid address. */
  requestPasswordReset(email: string): Promise<Detail>;
  /** `POST /password/reset/confirm/` with the uid and token of the mailed link. */
  confirmPasswordReset(uid: string, token: string, newPassword1: string, newPassword2: string): Promise<Detail>;
  /** `POST /registration/verify-email/` with the key of the mailed link. */
  verifyEmail(key: string): Promise<Detail>;
  /** `GET /sessions/`: the live logins, newest first. */
  sessions(): Promise<Session[]>;
  /** `POST /sessions/<id>/revoke/`. */
  revokeSession(id: string): Promise<Empty>;
  /** `POST /user/delete/`; the tokens are forgotten. */
  deleteAccount(password: string): Promise<Detail>;
  /**
   * `fetch` with `Authorization: Bearer <access>`. A 401 refreshes the tokens once and retries
   * once; a refused refresh forgets the tokens and rejects with `ApiError` 401, as does a
   * 401 that no refresh can cure. Any other answer resolves as `fetch` would.
   */
  authFetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** The tokens held now, or null. */
  tokens(): Promise<Tokens | null>;
  /** Holds these tokens (e.g. from another login flow). */
  setTokens(tokens: Tokens): Promise<void>;
  /** Forgets the tokens without telling the server or emitting `logout`. */
  clearTokens(): Promise<void>;
  /** Listens for an event; returns a function that stops listening. */
  on<E extends keyof ClientEvents>(event: E, listener: (value: ClientEvents[E]) => void): () => void;
  /** Closes the BroadcastChannel. */
  close(): void;
}

export function createClient(options: ClientOptions): Client {
  const base = options.baseUrl.replace(/\/+$/, "");
  const storage = options.storage ?? memoryStorage();
  const key = options.storageKey ?? "edge-auth-tokens";
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const listeners: { [E in keyof ClientEvents]: Set<(value: ClientEvents[E]) => void> } = {
    logout: new Set(),
    tokens: new Set(),
  };
  // One refresh per refresh token in this page: callers that got a 401 with the same token
  // share its promise.
  const inflight = new Map<string, Promise<Tokens>>();
  // Tokens rotated from a spent refresh token, as this tab learnt them (its own refresh or a
  // broadcast): a refresh that finds its token here uses the successor instead.
  const successors = new Map<string, Tokens>();
  const refused = new Set<string>();

  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : null;
  if (channel) {
    channel.onmessage = (event: MessageEvent<TabMessage>) => {
      void receive(event.data);
    };
  }

  function emit<E extends keyof ClientEvents>(event: E, value: ClientEvents[E]): void {
    for (const listener of listeners[event]) {
      try {
        listener(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  async function load(): Promise<Tokens | null> {
    const raw = await storage.get(key);
    if (!raw) return null;
    try {
      const parsed: unknown = JSON.parse(raw);
      return isTokens(parsed) ? { access: parsed.access, refresh: parsed.refresh } : null;
    } catch {
      return null;
    }
  }

  async function save(tokens: Tokens): Promise<void> {
    await storage.set(key, JSON.stringify({ access: tokens.access, refresh: tokens.refresh }));
    emit("tokens", tokens);
  }

  async function forget(reason: LogoutReason | null): Promise<void> {
    await storage.remove(key);
    if (reason) {
      emit("logout", reason);
      options.onLogout?.(reason);
    }
  }

  async function receive(message: TabMessage): Promise<void> {
    if (message.type === "tokens") {
      successors.set(message.spent, message.tokens);
      const current = await load();
      // Adopt them only if this tab still holds the token they replace.
      if (current?.refresh === message.spent) await save(message.tokens);
    } else if (message.type === "logout") {
      refused.add(message.spent);
      const current = await load();
      if (current?.refresh === message.spent) await forget("other_tab");
    }
  }

  function broadcast(message: TabMessage): void {
    channel?.postMessage(message);
  }

  /**
   * Posts the broadcast and resolves once this tab's own second channel has received it, so
   * every tab has it queued before the lock is released. At most one second.
   */
  function broadcastAndSettle(message: TabMessage): Promise<void> {
    if (!channel) return Promise.resolve();
    const echo = new BroadcastChannel(CHANNEL);
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        echo.close();
        resolve();
      };
      const timer = setTimeout(done, 1000);
      echo.onmessage = (event: MessageEvent<TabMessage>) => {
        if (event.data.spent === message.spent && event.data.type === message.type) done();
      };
      broadcast(message);
    });
  }

  function url(path: string): string {
    return `${base}${path}`;
  }

  async function readBody(response: Response): Promise<unknown> {
    const text = await response.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  }

  async function expectJson<T>(response: Response): Promise<T> {
    const body = await readBody(response);
    if (!response.ok) throw new ApiError(response.status, body as ErrorBody);
    return body as T;
  }

  function jsonInit(method: string, body?: unknown): RequestInit {
    const init: RequestInit = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers = { Accept: "application/json", "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    return init;
  }

  /** A public route: no token. */
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return expectJson<T>(await doFetch(url(path), jsonInit(method, body)));
  }

  /** A Bearer route, through authFetch. */
  async function authCall<T>(method: string, path: string, body?: unknown): Promise<T> {
    return expectJson<T>(await authFetch(url(path), jsonInit(method, body)));
  }

  /** POST /token/refresh/ with `spent`; a 401 forgets the tokens and tells the other tabs. */
  async function postRefresh(spent: string): Promise<Tokens> {
    const response = await doFetch(url("/token/refresh/"), jsonInit("POST", { refresh: spent }));
    const body = await readBody(response);
    if (response.status === 401) {
      refused.add(spent);
      const current = await load();
      if (current === null || current.refresh === spent) await forget("refresh_refused");
      await broadcastAndSettle({ type: "logout", spent });
      throw new ApiError(401, body as ErrorBody);
    }
    if (!response.ok) throw new ApiError(response.status, body as ErrorBody);
    const answer = body as RefreshedTokens;
    // With rotation off the answer has no refresh token and the old one stays usable.
    const tokens: Tokens = { access: answer.access, refresh: answer.refresh ?? spent };
    successors.set(spent, tokens);
    const current = await load();
    if (current === null || current.refresh === spent) await save(tokens);
    await broadcastAndSettle({ type: "tokens", spent, tokens });
    return tokens;
  }

  /**
   * The tokens that follow `stale`: already known (this tab or another one refreshed it), or
   * from one refresh made under the origin-wide lock.
   */
  async function refreshUnderLock(stale: Tokens): Promise<Tokens> {
    const decide = async (): Promise<Tokens> => {
      // Let a broadcast that arrived with the lock be handled first.
      await new Promise((resolve) => setTimeout(resolve, 0));
      const known = successors.get(stale.refresh);
      if (known) return known;
      if (refused.has(stale.refresh)) {
        const current = await load();
        if (current?.refresh === stale.refresh) await forget("other_tab");
        throw new ApiError(401, { detail: "Token is blacklisted", code: "token_not_valid" });
      }
      const current = await load();
      if (current === null) throw new ApiError(401, { detail: "Not logged in." });
      // The storage is shared with another tab that already moved on.
      if (current.refresh !== stale.refresh) return current;
      return postRefresh(stale.refresh);
    };
    const locks = typeof navigator === "object" ? navigator.locks : undefined;
    return locks ? locks.request(REFRESH_LOCK, decide) : decide();
  }

  function refresh(stale: Tokens): Promise<Tokens> {
    let pending = inflight.get(stale.refresh);
    if (!pending) {
      pending = refreshUnderLock(stale).finally(() => inflight.delete(stale.refresh));
      inflight.set(stale.refresh, pending);
    }
    return pending;
  }

  function withBearer(input: string | URL | Request, init: RequestInit | undefined, access: string | null): Request {
    const target = typeof input === "string" && input.startsWith("/") ? url(input) : input;
    const request = new Request(target, init);
    if (access) request.headers.set("Authorization", `Bearer ${access}`);
    return request;
  }

  async function authFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    // A Request's body can be read once: keep a copy for the retry.
    const original = withBearer(input, init, null);
    const sent = await load();
    const first = await doFetch(withBearer(original.clone(), undefined, sent?.access ?? null));
    if (first.status !== 401) return first;
    const firstBody = await readBody(first);
    if (sent === null) throw new ApiError(401, firstBody as ErrorBody);
    let next: Tokens;
    const current = await load();
    if (current && current.access !== sent.access) {
      // Refreshed meanwhile (here or by a tab sharing the storage): retry with the new token.
      next = current;
    } else {
      next = await refresh(sent);
    }
    const second = await doFetch(withBearer(original, undefined, next.access));
    if (second.status === 401) throw new ApiError(401, (await readBody(second)) as ErrorBody);
    return second;
  }

  async function storeLogin(answer: LoginResult): Promise<LoginResult> {
    if ("access" in answer) await save({ access: answer.access, refresh: answer.refresh });
    return answer;
  }

  return {
    register: (body) => call<Registered>("POST", "/register/", body),
    login: async (email, password) => storeLogin(await call<LoginResult>("POST", "/login/", { email, password })),
    verifyMfa: async (ephemeralToken, code) =>
      (await storeLogin(
        await call<LoginSuccess>("POST", "/mfa/verify/", { ephemeral_token: ephemeralToken, code }),
      )) as LoginSuccess,
    async logout() {
      const tokens = await load();
      try {
        if (tokens) await call<Detail>("POST", "/logout/", { refresh: tokens.refresh });
      } finally {
        await forget("logout");
        if (tokens) broadcast({ type: "logout", spent: tokens.refresh });
      }
    },
    async refresh() {
      const held = await load();
      if (held === null) throw new ApiError(401, { detail: "Not logged in." });
      return refresh(held);
    },
    user: () => authCall<User>("GET", "/user/"),
    updateUser: (patch) => authCall<User>("PATCH", "/user/", patch),
    async changePassword(oldPassword, newPassword1, newPassword2) {
      const tokens = await load();
      const answer = await authCall<Detail>("POST", "/password/change/", {
        old_password: oldPassword,
        new_password1: newPassword1,
        new_password2: newPassword2,
      });
      await forget("password_changed");
      if (tokens) broadcast({ type: "logout", spent: tokens.refresh });
      return answer;
    },
    requestPasswordReset: (email) => call<Detail>("POST", "/password/reset/", { email }),
    confirmPasswordReset: (uid, token, newPassword1, newPassword2) =>
      call<Detail>("POST", "/password/reset/confirm/", {
        uid,
        token,
        new_password1: newPassword1,
        new_password2: newPassword2,
      }),
    verifyEmail: (key) => call<Detail>("POST", "/registration/verify-email/", { key }),
    sessions: () => authCall<Session[]>("GET", "/sessions/"),
    revokeSession: (id) => authCall<Empty>("POST", `/sessions/${encodeURIComponent(id)}/revoke/`),
    async deleteAccount(password) {
      const tokens = await load();
      const answer = await authCall<Detail>("POST", "/user/delete/", { password });
      await forget("account_deleted");
      if (tokens) broadcast({ type: "logout", spent: tokens.refresh });
      return answer;
    },
    authFetch,
    tokens: load,
    setTokens: save,
    clearTokens: () => forget(null),
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>;
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    close() {
      channel?.close();
    },
  };
}
