// Starts the playground's wasm inside a dedicated worker; its `main` sees no window and trains.
import init from './app.js';
init();
