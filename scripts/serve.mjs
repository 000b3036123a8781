// A small static file server for the demo and the browser tests: 127.0.0.1 only, cross-origin
// isolated (COOP same-origin + COEP require-corp, so pages get SharedArrayBuffer), correct MIME
// types (application/wasm for compileStreaming), no caching, no directory listings, no path
// escapes. "/" redirects to the demo.
// Usage: node scripts/serve.mjs [--port 8080] [--root DIR]   (PORT also works; 0 = any free port)
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve, sep, extname } from 'node:path';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.gz': 'application/gzip',
};

/** The security headers every response carries (cross-origin isolation). */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/**
 * Starts the server. Resolves with its URL (ending in '/') and a close() function.
 * @param {{ root?: string, port?: number, host?: string, index?: string, log?: boolean }} [opts]
 */
export function startServer(opts = {}) {
  const root = resolve(opts.root ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const host = opts.host ?? '127.0.0.1';
  const index = opts.index ?? '/demo/';
  const server = createServer(async (req, res) => {
    const send = (status, body, headers = {}) => {
      res.writeHead(status, {
        ...ISOLATION_HEADERS,
        'Cache-Control': 'no-store',
        'Content-Type': 'text/plain; charset=utf-8',
        ...headers,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return send(400, 'bad request\n');
    }
    if (path === '/' && index !== '/') return send(302, '', { Location: index });
    let file = resolve(root, '.' + path);
    if (file !== root && !file.startsWith(root + sep)) return send(403, 'forbidden\n');
    try {
      let st = await stat(file);
      if (st.isDirectory()) {
        if (!path.endsWith('/')) return send(301, '', { Location: path + '/' });
        file = join(file, 'index.html');
        st = await stat(file);
      }
      if (!st.isFile()) return send(404, 'not found\n');
      res.writeHead(200, {
        ...ISOLATION_HEADERS,
        'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'Content-Length': st.size,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      });
      if (req.method === 'HEAD') return res.end();
      const stream = createReadStream(file);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    } catch {
      send(404, 'not found\n');
    }
    if (opts.log) res.on('finish', () => console.log(`${res.statusCode} ${req.method} ${req.url}`));
  });
  return new Promise((resolveP, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      resolveP({
        server,
        port,
        url: `http://${host}:${port}/`,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r(undefined));
          }),
      });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const arg = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const port = Number(arg('--port') ?? process.env.PORT ?? 8080);
  const { url } = await startServer({ port, root: arg('--root'), log: args.includes('--log') });
  console.log(`wasm-vae demo: ${url}demo/  (Ctrl-C to stop)`);
}
