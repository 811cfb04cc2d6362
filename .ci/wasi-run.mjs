// Cargo runner for wasm32-wasip1: runs a WASI program under Node's built-in
// `node:wasi`. Usage: node wasi-run.mjs prog.wasm [args...]
// The host's `/` is preopened as `/`, so absolute paths (CARGO_MANIFEST_DIR,
// the shared reference data) work unchanged. The guest's working directory is
// `/` (wasi-libc's start value): relative paths resolve against `/`, not the
// host's cwd. (Preopening `.` as well makes one of the two kinds fail, since
// wasi-libc matches both preopens: pass absolute paths.)
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import process from 'node:process';

const [wasmPath, ...args] = process.argv.slice(2);
if (!wasmPath) {
  console.error('usage: wasi-run.mjs prog.wasm [args...]');
  process.exit(2);
}
const wasi = new WASI({
  version: 'preview1',
  args: [wasmPath, ...args],
  env: { ...process.env, PWD: process.cwd() },
  preopens: { '/': '/' },
  returnOnExit: true,
});
let code;
try {
  const module = await WebAssembly.compile(await readFile(wasmPath));
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  code = wasi.start(instance);
} catch (e) {
  // A Rust panic aborts with `unreachable`: report it as a failure, like a native abort.
  console.error(`wasi-run: ${e && e.stack ? e.stack : e}`);
  code = 134;
}
process.exit(code ?? 0);
