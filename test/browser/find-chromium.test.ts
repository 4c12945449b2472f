/**
 * scripts/find-chromium.mjs: the order CHROMIUM_PATH, system paths, @sparticuz/chromium, and what
 * a wrong CHROMIUM_PATH (missing, not executable, a folder) does: it is passed over, with a note.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findChromium, SYSTEM_CHROMIUM_PATHS } from '../../scripts/find-chromium.mjs';

const dir = mkdtempSync(join(tmpdir(), 'ark-e2ee-find-chromium-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('findChromium', () => {
  it('takes CHROMIUM_PATH first when it names an executable file', async () => {
    const fake = join(dir, 'my-chromium');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    const found = await findChromium({ CHROMIUM_PATH: fake });
    expect(found).toEqual({ executablePath: fake, source: 'CHROMIUM_PATH', notes: [] });
  });

  it.each([
    ['missing', join(dir, 'nothing-here')],
    ['not executable', join(dir, 'plain-file')],
    ['a folder', dir],
  ])('passes over a CHROMIUM_PATH that is %s, and says so', async (_what, path) => {
    writeFileSync(join(dir, 'plain-file'), 'not a browser');
    chmodSync(join(dir, 'plain-file'), 0o644);
    const found = await findChromium({ CHROMIUM_PATH: path, ARK_E2EE_NO_SYSTEM_CHROMIUM: '1' });
    expect(found?.executablePath).not.toBe(path);
    expect(found?.notes ?? []).toContain(`CHROMIUM_PATH=${path} is not an executable file`);
  });

  it('with the system paths left out, falls back to the Chromium inside @sparticuz/chromium', async () => {
    const found = await findChromium({ ARK_E2EE_NO_SYSTEM_CHROMIUM: '1' });
    if (process.platform === 'linux' && process.arch === 'x64') {
      expect(found?.source).toBe('@sparticuz/chromium');
      expect(found?.executablePath).toMatch(/node_modules\/\.cache\/ark-e2ee\/sparticuz-chromium-[\d.]+\/chromium$/);
      expect(found?.notes).toContain('system paths not searched (ARK_E2EE_NO_SYSTEM_CHROMIUM=1)');
    } else {
      expect(found).toBeUndefined();
    }
  }, 60_000);

  it('knows the usual system paths', () => {
    expect(SYSTEM_CHROMIUM_PATHS).toContain('/usr/bin/chromium');
    expect(SYSTEM_CHROMIUM_PATHS).toContain('/usr/bin/google-chrome');
  });
});
