// Starts the threaded CPU trainer in this module worker: one pool thread per logical core. Its
// build with relaxed SIMD (gemm's multiply-adds fused where the CPU has FMA) where the engine has
// it, else the plain simd128 build; each build has its own glue, in its own folder.
import { relaxedSimd } from './relaxed_simd.js';

const { default: init, start } = await import(relaxedSimd ? './threads/relaxed/trainer_threads.js' : './threads/plain/trainer_threads.js');
await init();
await start(navigator.hardwareConcurrency || 1);
