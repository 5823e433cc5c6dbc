// The micro-benchmark worker of `make bench`: runs a function of the benchmark wasm
// (bench/wasm, imported as ./bench.wasm) `n` times inside one request, for
// GET /<function>?n=<n>. workerd's clocks stand still while a request computes (a Spectre
// mitigation), so each operation is timed from outside, less the time of a request that runs
// it zero times.
import wasm from "./bench.wasm";
const imports = {};
for (const { module, name } of WebAssembly.Module.imports(wasm)) {
  imports[module] ??= {};
  imports[module][name] = () => {
    throw new Error(`${module}.${name} is not available`);
  };
}
const bench = new WebAssembly.Instance(wasm, imports).exports;
export default {
  fetch(request) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n"));
    return new Response(String(n === 0 ? 0 : bench[url.pathname.slice(1)](n)));
  },
};
