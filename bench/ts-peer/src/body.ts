// Request bodies as the worker reads them (docs/contract.md §2.3): JSON, form and multipart
// bodies become fields; each string field follows Django REST framework's CharField.

import { bodyTooLarge, nonField, parseError, unsupportedMediaType } from "./errors";

const MAX_BODY_BYTES = 1_048_576;
/** Beyond this a declared body is refused unread. */
const MAX_DRAIN_BYTES = 16 * 1_048_576;
const MAX_JSON_DEPTH = 128;

export const REQUIRED = "This field is required.";
const NULL = "This field may not be null.";
const BLANK = "This field may not be blank.";
export const NOT_A_STRING = "Not a valid string.";
export const NULL_CHARACTERS = "Null characters are not allowed.";

/** A JSON number keeps its text (DRF converts it to a string field's value). */
export class JsonNumber {
  constructor(readonly raw: string) {}
}

export type Field = string | boolean | null | JsonNumber | { composite: string };

export type Fields = Map<string, Field>;

export async function readFields(request: Request): Promise<Fields> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_DRAIN_BYTES) throw bodyTooLarge();
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.length > MAX_BODY_BYTES) throw bodyTooLarge();
  if (bytes.length === 0) return new Map();
  const header = request.headers.get("content-type") ?? "";
  const mediaType = (header.split(";")[0] ?? "").trim().toLowerCase();
  if (mediaType === "application/json") return parseJson(bytes);
  if (mediaType === "application/x-www-form-urlencoded") {
    return new Map(new URLSearchParams(new TextDecoder().decode(bytes)));
  }
  if (mediaType === "multipart/form-data") {
    const form = await new Response(bytes, { headers: { "content-type": header } }).formData().catch(() => {
      throw parseError("the multipart body could not be read");
    });
    const fields: Fields = new Map();
    for (const [name, value] of form) if (typeof value === "string") fields.set(name, value);
    return fields;
  }
  throw unsupportedMediaType(header);
}

function parseJson(bytes: Uint8Array): Fields {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw parseError("invalid UTF-8");
  }
  checkDepthAndSurrogates(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw parseError((error as Error).message);
  }
  if (value === null) throw nonField("No data provided");
  if (Array.isArray(value)) throw notAnObject("list");
  if (typeof value === "string") throw notAnObject("str");
  if (typeof value === "boolean") throw notAnObject("bool");
  if (typeof value === "number") throw notAnObject(/[.eE]/.test(text) ? "float" : "int");
  const fields: Fields = new Map();
  for (const [name, member] of Object.entries(value as Record<string, unknown>)) {
    fields.set(name, field(member));
  }
  return fields;
}

const notAnObject = (kind: string) => nonField(`Invalid data. Expected a dictionary, but got ${kind}.`);

function field(value: unknown): Field {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return new JsonNumber(String(value));
  return { composite: JSON.stringify(value) };
}

/** Nesting deeper than 128 and lone UTF-16 surrogate escapes are parse errors, as in the worker. */
function checkDepthAndSurrogates(text: string): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] !== "\\") continue;
        if (text[i + 1] === "u") {
          const unit = Number.parseInt(text.slice(i + 2, i + 6), 16);
          if (unit >= 0xd800 && unit <= 0xdbff) {
            const low = text.slice(i + 6, i + 8) === "\\u" ? Number.parseInt(text.slice(i + 8, i + 12), 16) : 0;
            if (!(low >= 0xdc00 && low <= 0xdfff)) throw parseError("lone leading surrogate in hex escape");
            i += 11;
            continue;
          }
          if (unit >= 0xdc00 && unit <= 0xdfff) throw parseError("lone trailing surrogate in hex escape");
        }
        i++;
      }
    } else if (ch === "[" || ch === "{") {
      if (++depth > MAX_JSON_DEPTH) throw parseError(`nesting deeper than ${MAX_JSON_DEPTH} levels at byte ${i}`);
    } else if (ch === "]" || ch === "}") {
      depth = Math.max(0, depth - 1);
    }
  }
}

// Python's str.strip(): Unicode white space and the separators U+001C–U+001F.
const PYTHON_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const STRIP = new RegExp(`^${PYTHON_SPACE}+|${PYTHON_SPACE}+$`, "g");

/** A string field's trimmed text, or the one message that stops it. */
export function text(fields: Fields, name: string, invalid = NOT_A_STRING): string | { error: string } {
  const value = fields.get(name);
  if (value === undefined) return { error: REQUIRED };
  if (value === null) return { error: NULL };
  if (typeof value === "boolean" || (typeof value === "object" && "composite" in value)) return { error: invalid };
  const raw = value instanceof JsonNumber ? value.raw : value;
  const trimmed = raw.replace(STRIP, "");
  return trimmed === "" ? { error: BLANK } : trimmed;
}

/** A plain string field: also without NUL characters. */
export function plainText(fields: Fields, name: string): string | { error: string } {
  const value = text(fields, name);
  if (typeof value === "string" && value.includes("\0")) return { error: NULL_CHARACTERS };
  return value;
}
