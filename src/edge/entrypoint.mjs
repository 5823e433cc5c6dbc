// The Worker's module (wrangler.toml `main`): everything worker-build generates, unchanged (its
// default export keeps `fetch` and `scheduled`), plus `AuthService`, the named Workers RPC
// entrypoint that consumers bind to (docs/accounts.md §7).
//
// worker-build 0.8.7 cannot declare a named entrypoint. Its `generate_handlers` turns every
// function the wasm module exports into a method of the one class of its shim,
// `Entrypoint.prototype.${func_name} = exports.${func_name};`, and that class is the default
// export; `add_export_wrappers` re-exports only the classes wasm-bindgen generates, as
// `new Proxy(exports.${class_name}, classProxyHooks)`, which do not derive from
// WorkerEntrypoint, so the runtime gives them no RPC. The class is therefore declared here.
import { WorkerEntrypoint } from "cloudflare:workers";
import Worker from "../../build/worker/shim.mjs";

export * from "../../build/worker/shim.mjs";
export default Worker;

/**
 * `verify(token)` and `user(token)` are the Rust functions of src/edge/rpc.rs; `fetch` is the HTTP
 * API, as through the default entrypoint. Each call goes through an instance of worker-build's
 * entrypoint for this call's `ctx` and `env`, whose proxy restarts the wasm instance after a
 * crash, as it does for the default entrypoint. (That class has `verify` and `user` too, because
 * worker-build puts every export there; AuthService is the supported binding.)
 */
export class AuthService extends WorkerEntrypoint {
  #worker = new Worker(this.ctx, this.env);

  fetch(request) {
    return this.#worker.fetch(request);
  }

  verify(token) {
    return this.#worker.verify(token);
  }

  user(token) {
    return this.#worker.user(token);
  }
}
