// The browser part of `npm run bench`: bundles bench/browser/page.mjs with esbuild (in memory),
// serves it and the repo root from a tiny node:http server on 127.0.0.1 (COOP/COEP headers, so the
// page is cross-origin isolated like a production deployment with threads; application/wasm MIME
// so compileStreaming works), and drives Debian's /usr/bin/chromium headless with playwright-core.
// No browser is ever downloaded. Standalone: node bench/browser/run.mjs [--quick] [--json out.json]
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { existsSync, writeFileSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.map': 'application/json',
};

async function bundle() {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [join(root, 'bench/browser/page.mjs')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
    external: ['node:*'], // in case a universal module keeps a guarded dynamic import('node:…')
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return r.outputFiles[0].contents;
}

function serve(pageJs) {
  const html =
    '<!doctype html><meta charset="utf-8"><title>wasm-vae bench</title><script type="module" src="/__bench/page.js"></script>';
  const server = createServer(async (req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      if (path === '/' || path === '/__bench/index.html') {
        res.writeHead(200, { ...headers, 'Content-Type': MIME['.html'] });
        return res.end(html);
      }
      if (path === '/favicon.ico') {
        res.writeHead(204, headers);
        return res.end();
      }
      if (path === '/__bench/page.js') {
        res.writeHead(200, { ...headers, 'Content-Type': MIME['.js'] });
        return res.end(pageJs);
      }
      const file = normalize(join(root, path));
      if (!file.startsWith(root.endsWith(sep) ? root : root + sep) || !(await stat(file)).isFile())
        throw new Error('not found');
      const body = await readFile(file);
      res.writeHead(200, { ...headers, 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, headers);
      res.end('not found');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * Returns { available: false, note } when Chromium is missing, else the page's result plus
 * the browser version. opts: batches, seconds, warmup, builds, tfjsBackends, maxCpuStepSeconds,
 * timeoutSeconds, log.
 */
export async function runBrowserBench(opts) {
  const log = opts.log ?? console.log;
  if (!existsSync(CHROMIUM))
    return {
      available: false,
      note: `${CHROMIUM} is missing: browser figures skipped (apt-get install chromium)`,
    };
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    return {
      available: false,
      note: `playwright-core is not installed (npm i -D playwright-core): ${e.message}`,
    };
  }
  const t0 = performance.now();
  const pageJs = await bundle();
  const server = await serve(pageJs);
  const url = `http://127.0.0.1:${server.address().port}/`;
  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    const version = browser.version();
    log(`  Chromium ${version}, page ${url} (bundle ${(pageJs.length / 1e6).toFixed(2)} MB)`);
    const page = await browser.newPage();
    page.on('console', (m) => log(m.text()));
    page.on('pageerror', (e) => log(`  page error: ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
    const pageOpts = {
      batches: opts.batches,
      seconds: opts.seconds,
      warmup: opts.warmup,
      builds: opts.builds,
      tfjsBackends: opts.tfjsBackends,
      maxCpuStepSeconds: opts.maxCpuStepSeconds,
    };
    let timer;
    const timeout = new Promise((_, rej) => {
      timer = setTimeout(
        () => rej(new Error(`browser bench exceeded ${opts.timeoutSeconds} s`)),
        opts.timeoutSeconds * 1000,
      );
    });
    const result = await Promise.race([
      (async () => {
        const r = await page.evaluate((o) => window.runBench(o), pageOpts);
        if (opts.workerTrain)
          r.workerTrain = await page.evaluate((o) => window.runWorkerTrain(o), opts.workerTrain);
        return r;
      })(),
      timeout,
    ]).finally(() => clearTimeout(timer));
    return {
      available: true,
      chromium: version,
      launchArgs: ARGS,
      url,
      ...result,
      runnerSeconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await browser?.close().catch(() => {});
    server.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const i = process.argv.indexOf('--json');
  const r = await runBrowserBench({
    batches: [32, 128, 512],
    seconds: quick ? 0.5 : 2,
    warmup: quick ? 0.2 : 1,
    builds: ['relaxed', 'simd', 'scalar'],
    tfjsBackends: ['cpu', 'wasm'],
    maxCpuStepSeconds: quick ? 2 : 6,
    timeoutSeconds: 600,
  });
  const text = JSON.stringify(r, null, 2);
  if (i > 0) writeFileSync(process.argv[i + 1], text);
  else console.log(text);
}
