// Every refusal the peer makes, with the worker's status and body for it (docs/contract.md
// §2.2, §8; the worker's src/contract/error.rs).

export type TokenProblem = "invalid" | "expired" | "no_type" | "no_id" | "wrong_type" | "blacklisted";

const TOKEN_MESSAGES: Record<TokenProblem, string> = {
  invalid: "Token is invalid or expired",
  expired: "Token is invalid or expired",
  no_type: "Token has no type",
  no_id: "Token has no id",
  wrong_type: "Token has wrong type",
  blacklisted: "Token is blacklisted",
};

/** A refused request: its status, its JSON body and any header of its own. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
    /** For the log: set for 5xx only. */
    readonly logLine?: string,
  ) {
    super(logLine ?? `HTTP ${status}`);
  }
}

const detail = (status: number, text: string) => new ApiError(status, { detail: text });

export const notFound = () => detail(404, "Not found.");
export const methodNotAllowed = (method: string) => detail(405, `Method "${method}" not allowed.`);
export const bodyTooLarge = () => detail(413, "Request body too large.");
export const unsupportedMediaType = (header: string) => detail(415, `Unsupported media type "${header}" in request.`);
export const parseError = (message: string) => detail(400, `JSON parse error - ${message}`);
export const nonField = (message: string) => new ApiError(400, { non_field_errors: [message] });
export const fieldErrors = (errors: Record<string, string[]>) => new ApiError(400, errors);
export const badCredentials = () => detail(401, "No active account found with the given credentials");
export const tokenError = (problem: TokenProblem) =>
  new ApiError(401, { detail: TOKEN_MESSAGES[problem], code: "token_not_valid" });
export const noActiveAccount = () =>
  new ApiError(401, { detail: "No active account found for the given token.", code: "no_active_account" });
export const notAuthenticated = () => detail(401, "Authentication credentials were not provided.");
export const badAuthorizationHeader = () =>
  new ApiError(401, {
    detail: "Authorization header must contain two space-delimited values",
    code: "bad_authorization_header",
  });
export const bearerError = (problem: TokenProblem) =>
  new ApiError(401, {
    detail: "Given token not valid for any token type",
    code: "token_not_valid",
    messages: [{ token_class: "AccessToken", token_type: "access", message: TOKEN_MESSAGES[problem] }],
  });
export const noUserIdentification = () =>
  new ApiError(401, { detail: "Token contained no recognizable user identification", code: "token_not_valid" });
export const userInactive = () => new ApiError(401, { detail: "User is inactive", code: "user_inactive" });
export const userNotFound = () => new ApiError(401, { detail: "User not found", code: "user_not_found" });
export function throttled(wait: number): ApiError {
  const seconds = Math.max(wait, 1);
  const unit = seconds === 1 ? "second" : "seconds";
  return new ApiError(
    429,
    { detail: `Request was throttled. Expected available in ${seconds} ${unit}.` },
    { "Retry-After": String(seconds) },
  );
}
export const internal = (cause: string) => new ApiError(500, { detail: "A server error occurred." }, {}, cause);
export const unavailable = (cause: string) =>
  new ApiError(503, { detail: "Service temporarily unavailable, try again later." }, {}, cause);
