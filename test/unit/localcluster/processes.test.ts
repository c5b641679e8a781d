import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandLineMentions, isAlive, spawnLogged, stopPids, stopProcess, tailFile } from '../../../src/localcluster/processes.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lg-processes-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A Node process that logs a line and idles; it ignores SIGTERM when asked to. Its argv names `dir`. */
function sleeper(name: string, { ignoreTerm = false, detached = false } = {}) {
  const script = `${ignoreTerm ? "process.on('SIGTERM', () => {}); " : ''}console.log('started ${name}'); setTimeout(() => {}, 30_000);`;
  return spawnLogged(name, process.execPath, ['-e', script, dir], { logFile: join(dir, `${name}.log`), detached });
}

describe('spawnLogged and stopProcess', () => {
  it('writes output to the log file and stops with SIGTERM', async () => {
    const proc = sleeper('plain');
    await expect.poll(() => tailFile(proc.logFile)).toBe('started plain');
    expect(isAlive(proc.pid)).toBe(true);
    await stopProcess(proc);
    expect((await proc.exited).signal).toBe('SIGTERM');
    expect(isAlive(proc.pid)).toBe(false);
  });

  it('falls back to SIGKILL after the grace period', async () => {
    const proc = sleeper('stubborn', { ignoreTerm: true });
    await expect.poll(() => tailFile(proc.logFile)).toBe('started stubborn');
    await stopProcess(proc, 200);
    expect((await proc.exited).signal).toBe('SIGKILL');
  });

  it('fails clearly when the binary cannot be started', () => {
    expect(() => spawnLogged('missing', join(dir, 'no-such-binary'), [], { logFile: join(dir, 'missing.log') })).toThrow(
      /cannot start missing/,
    );
  });
});

describe('stopPids', () => {
  it('stops processes it did not spawn, escalating to SIGKILL', async () => {
    const polite = sleeper('polite', { detached: true });
    const stubborn = sleeper('stubborn', { detached: true, ignoreTerm: true });
    await expect.poll(() => tailFile(stubborn.logFile)).toBe('started stubborn');
    await stopPids([polite.pid, stubborn.pid], 300);
    expect([polite.pid, stubborn.pid].filter(isAlive)).toEqual([]);
  });
});

describe('commandLineMentions', () => {
  it('recognises a process by an argument and rejects other text', async () => {
    const proc = sleeper('named');
    try {
      expect(commandLineMentions(proc.pid, dir)).toBe(true);
      expect(commandLineMentions(proc.pid, join(dir, 'elsewhere'))).toBe(false);
    } finally {
      await stopProcess(proc);
    }
  });
});

describe('tailFile', () => {
  it('returns the last lines, or nothing for a missing file', () => {
    writeFileSync(join(dir, 'log'), 'a\nb\nc\n');
    expect(tailFile(join(dir, 'log'), 2)).toBe('b\nc');
    expect(tailFile(join(dir, 'absent'))).toBe('');
  });
});
