// Runs benchmark jobs in Node, each in a fresh process (bench/node-child.mjs).
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { root } from '../tests/support/models.mjs';

/** Resolves to `{ result }` or `{ error }`; progress lines on stderr go to `log`. */
export function runNode(job, { log, timeoutMs }) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', join(root, 'bench', 'node-child.mjs'), JSON.stringify(job)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const tail = [];
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
      const lines = stderr.split('\n');
      stderr = lines.pop();
      for (const line of lines.filter(Boolean)) {
        log(line);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        try {
          resolve({ result: JSON.parse(stdout.trim().split('\n').at(-1)) });
          return;
        } catch (error) {
          resolve({ error: `unreadable result: ${error.message}` });
          return;
        }
      }
      resolve({ error: `node-child exited with ${code ?? signal}: ${[...tail, stderr].join('\n')}` });
    });
  });
}
