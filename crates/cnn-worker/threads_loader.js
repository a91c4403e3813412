// Starts the threaded CPU trainer in this module worker: one pool thread per logical core.
import init, { start } from './trainer_threads.js';

await init();
await start(navigator.hardwareConcurrency || 1);
