// Runs a peer benchmark as a child process (one at a time, so peers never share the two cores
// with each other), relays its stderr progress indented, and parses the one JSON object it
// prints on stdout. A child that outlives `timeoutSeconds` is killed (by its own pid).
import { spawn } from 'node:child_process';

export function runJsonChild(cmd, args, { cwd, env, timeoutSeconds = 600, prefix = '    ' } = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let child;
    try {
      child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ ok: false, error: `could not start ${cmd}: ${e.message}`, seconds: 0 });
      return;
    }
    let out = '',
      errTail = '',
      partial = '',
      timedOut = false;
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      const text = partial + d;
      const lines = text.split('\n');
      partial = lines.pop();
      for (const l of lines) {
        process.stdout.write(`${prefix}${l}\n`);
        errTail = (errTail + l + '\n').slice(-4000);
      }
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutSeconds * 1000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({
        ok: false,
        error: `could not start ${cmd}: ${e.message}`,
        seconds: (performance.now() - t0) / 1000,
      });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (partial) {
        process.stdout.write(`${prefix}${partial}\n`);
        errTail += partial;
      }
      const seconds = (performance.now() - t0) / 1000;
      if (timedOut)
        return resolve({
          ok: false,
          code,
          error: `killed after the ${timeoutSeconds} s time limit`,
          seconds,
          stderr: errTail,
        });
      if (code !== 0)
        return resolve({
          ok: false,
          code,
          signal,
          error: `exited with code ${code}${signal ? ` (${signal})` : ''}`,
          seconds,
          stderr: errTail,
        });
      try {
        resolve({ ok: true, code, json: JSON.parse(out), seconds });
      } catch (e) {
        resolve({ ok: false, code, error: `printed no valid JSON: ${e.message}`, seconds, stderr: errTail });
      }
    });
  });
}
