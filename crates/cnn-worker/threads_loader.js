// Starts the threaded CPU trainer in this module worker: one pool thread per logical core. Its
// build with relaxed SIMD (gemm's multiply-adds fused where the CPU has FMA) where the engine has
// it, else the plain simd128 build; both share this glue.
import init, { start } from './trainer_threads.js';
import { relaxedSimd } from './relaxed_simd.js';

const build = relaxedSimd ? 'trainer_threads_relaxed_bg.wasm' : 'trainer_threads_bg.wasm';
await init({ module_or_path: new URL(build, import.meta.url) });
await start(navigator.hardwareConcurrency || 1);
