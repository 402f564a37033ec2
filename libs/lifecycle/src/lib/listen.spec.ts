import { connect } from 'node:net';
import { listenHttp } from './listen';

/** Sends raw bytes and answers everything the server wrote back before closing. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('listenHttp', () => {
  it('answers requests the HTTP parser refuses in the API error shape, without echoing them', async () => {
    const listening = await listenHttp((_req, res) => res.end('ok'), 0, '127.0.0.1');
    try {
      const huge = await raw(listening.port, `GET /${'x'.repeat(100_000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
      expect(huge).toMatch(/^HTTP\/1\.1 431 /);
      expect(huge).toContain('application/json');
      expect(JSON.parse(huge.slice(huge.indexOf('\r\n\r\n') + 4))).toEqual({
        error: { code: 'PAYLOAD_TOO_LARGE', message: expect.any(String), details: [] },
      });
      expect(huge).not.toContain('xxxx');

      const head = await raw(listening.port, `HEAD /${'x'.repeat(100_000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
      expect(head).toMatch(/^HTTP\/1\.1 431 /);
      expect(head.endsWith('\r\n\r\n')).toBe(true);

      const garbage = await raw(listening.port, 'NOT HTTP\u0000\r\n\r\n');
      expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4)).error.code).toBe('VALIDATION_FAILED');
    } finally {
      await listening.close();
    }
  });
});
