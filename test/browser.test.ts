// Where the browser tests take their browser from (test/browser.ts): the order of the
// sources, and the one-line error when there is none.
import { describe, expect, it } from 'vitest';
import { type BrowserHost, resolveBrowser, SYSTEM_BROWSERS } from './browser.js';

const host = (over: Partial<BrowserHost> & { files?: string[] }): BrowserHost => ({
  platform: 'linux',
  arch: 'x64',
  env: {},
  exists: (p) => (over.files ?? []).includes(p),
  npmChromium: async () => '/cache/143.0.4/chromium',
  ...over,
});

describe('resolveBrowser', () => {
  it('takes the npm package on Linux x64, even with a system Chromium present', async () => {
    expect(await resolveBrowser(host({ files: ['/usr/bin/chromium'] }))).toBe('/cache/143.0.4/chromium');
  });

  it('takes CHROME_PATH first when it is set, and refuses one that does not exist', async () => {
    expect(await resolveBrowser(host({ env: { CHROME_PATH: '/opt/c' }, files: ['/opt/c'] }))).toBe('/opt/c');
    await expect(resolveBrowser(host({ env: { CHROME_PATH: '/opt/none' } }))).rejects.toThrow(
      'CHROME_PATH is /opt/none, which does not exist',
    );
  });

  it('falls back to a system browser elsewhere, or when the package is absent', async () => {
    const mac = SYSTEM_BROWSERS.find((p) => p.startsWith('/Applications'))!;
    expect(await resolveBrowser(host({ platform: 'darwin', arch: 'arm64', files: [mac] }))).toBe(mac);
    expect(await resolveBrowser(host({ npmChromium: async () => null, files: ['/usr/bin/chromium'] }))).toBe('/usr/bin/chromium');
  });

  it('with no browser at all, says in one line how to get one', async () => {
    const err = await resolveBrowser(host({ platform: 'linux', arch: 'arm64' })).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg).toContain('linux-arm64');
    expect(msg).toContain('@sparticuz/chromium');
    expect(msg).toContain('CHROME_PATH');
    const bare = await resolveBrowser(host({ npmChromium: async () => null })).catch((e: Error) => e.message);
    expect(bare).toContain('@sparticuz/chromium is not installed');
  });
});
