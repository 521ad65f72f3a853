// Which files: entries put a secret into an image (pure): by path (munge key, ssh host keys), by mode and owner, by content.
import { describe, expect, it } from 'vitest';
import { secretFiles, type ExtraFile } from '../../../src/image/fix/extra-files.ts';

const file = (path: string, o: Partial<ExtraFile> = {}): ExtraFile => ({ path, type: 'file', content: 'x', mode: 0o644, owner: 'root', group: 'root', ...o });

describe('secretFiles', () => {
  it('names the entries that look like secrets, and why', () => {
    const files = [
      file('/etc/munge/munge.key', { mode: 0o400, owner: 'munge' }),
      file('etc/ssh/ssh_host_ed25519_key', { mode: 0o600 }),
      file('/etc/ssh/ssh_host_ed25519_key.pub'),
      file('/etc/ssh/ssh_host_rsa_key'),
      file('/opt/app/token', { mode: 0o600, owner: 'app' }),
      file('/opt/app/config', { mode: 0o600, owner: 'root' }),
      file('/opt/app/shared', { mode: 0o640, owner: 'app' }),
      file('/root/.ssh/id', { content: '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n' }),
      file('/etc/pki/cert.pem', { content: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' }),
      file('/etc/bytes', { content: new Uint8Array(Buffer.from('-----BEGIN PRIVATE KEY-----')) }),
      { ...file('/etc/munge'), type: 'directory' as const },
      { ...file('/etc/munge/munge.key.link'), type: 'symlink' as const, target: 'munge.key' },
    ];
    expect(secretFiles(files).map((s) => [s.index, s.path, s.why])).toEqual([
      [0, 'etc/munge/munge.key', 'the munge key'],
      [1, 'etc/ssh/ssh_host_ed25519_key', 'an ssh host private key'],
      [3, 'etc/ssh/ssh_host_rsa_key', 'an ssh host private key'],
      [4, 'opt/app/token', 'only its owner app may read it (mode 0600)'],
      [7, 'root/.ssh/id', 'its content is a PEM private key'],
      [9, 'etc/bytes', 'its content is a PEM private key'],
    ]);
  });
});
