// The playground's service worker: the site and, once fetched, the data from a cache, so that the
// page opens and trains with no network after the first visit; and the cross-origin isolation
// headers on every response, so that the threaded CPU trainer (shared memory) works on hosts that
// cannot send them (GitHub Pages), as coi-serviceworker does. Hand-written: the few lines below
// are all the page needs, and a bundler plugin would add a build step for them.
//
// Updates: the site's own files are fetched from the network first and the cache refreshed, so a
// new release is picked up on the next visit; only offline does the cache answer. The data set
// never changes, so it is answered from the cache first. Runs live in IndexedDB, which this
// worker never touches.
const CACHE = 'cnn-playground-v1';
// How long the network may take to answer before a kept copy is used.
const PATIENCE_MS = 4000;

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(answer(request, event));
});

async function answer(request, event) {
  const cache = await caches.open(CACHE);
  const kept = cache.match(request, { ignoreSearch: true });
  if (new URL(request.url).pathname.includes('/data/') && (await kept)) return isolated(await kept);
  const network = fetch(request).then((response) => {
    // Stored beside the answer, not before it: the page reads the response as it arrives.
    if (response.ok) keep(event, cache.put(request, response.clone()));
    return response;
  });
  try {
    // The network's answer; where it is slow to come (a connection that hangs is as offline as
    // none) and a copy is kept, the copy.
    const slow = new Promise((resolve) => setTimeout(resolve, PATIENCE_MS));
    return isolated(await Promise.race([network, slow.then(async () => (await kept) || network)]));
  } catch (offline) {
    const copy = await kept;
    if (copy) return isolated(copy);
    throw offline;
  }
}

// Keeps the worker alive for `promise` where the event still can; a late one runs on regardless.
function keep(event, promise) {
  try {
    event.waitUntil(promise);
  } catch (ended) {
    promise.catch(() => {});
  }
}

// The same response with the headers that make the page cross-origin isolated.
function isolated(response) {
  if (response.status === 0) return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
