/**
 * Admin commands change a running server at once: the server caches account lookups, and another
 * process (the CLI) changing an account must empty that cache. Each RCPT is asked twice, before
 * and after the change, so a stale cache entry (positive or negative) would show.
 */
import { after, before, describe, it } from 'node:test';
import { cliOk, type ServerProcess, startServe } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';
import { LineClient, play } from '../support/transcript.js';

describe('admin commands on a running server', () => {
  let server: ServerProcess;
  const data = tempDir();

  before(async () => {
    await cliOk(['domain', 'add', 'uu.ac.kr', '--data', data]);
    await cliOk(['user', 'add', 'kihyun@uu.ac.kr', '--password', 'kihyun0', '--data', data]);
    await cliOk(['user', 'add', 'minji@uu.ac.kr', '--password', 'minji0', '--data', data]);
    server = await startServe(data, ['--hostname', 'uu.ac.kr']);
  });
  after(() => server?.stop());

  it('takes aliases, deleted users and new passwords into account without a restart', async () => {
    const smtp = await LineClient.connect(server.ports.smtp!);
    try {
      await play(
        smtp,
        `
        S: 220 *
        C: HELO admin.test
        S: 250 *
        C: MAIL FROM:<a@example.org>
        S: 250 *
        C: RCPT TO:<info@uu.ac.kr>
        S: 550 5.1.1 *
        C: RCPT TO:<minji@uu.ac.kr>
        S: 250 *
        `,
      );
      await cliOk(['alias', 'add', 'info@uu.ac.kr', 'kihyun@uu.ac.kr', '--data', data]);
      await cliOk(['user', 'del', 'minji@uu.ac.kr', '--data', data]);
      await play(
        smtp,
        `
        C: RSET
        S: 250 *
        C: MAIL FROM:<a@example.org>
        S: 250 *
        C: RCPT TO:<info@uu.ac.kr>
        S: 250 *
        C: RCPT TO:<minji@uu.ac.kr>
        S: 550 5.1.1 *
        C: QUIT
        S: 221 *
        `,
      );
    } finally {
      smtp.close();
    }

    const login = async (password: string, answer: string) => {
      const pop = await LineClient.connect(server.ports.pop3!);
      try {
        await play(
          pop,
          `S: +OK *\nC: USER kihyun@uu.ac.kr\nS: +OK *\nC: PASS ${password}\nS: ${answer}\nC: QUIT\nS: +OK *`,
        );
      } finally {
        pop.close();
      }
    };
    await login('kihyun0', '+OK *');
    await cliOk(['user', 'passwd', 'kihyun@uu.ac.kr', '--password', 'new-secret', '--data', data]);
    await login('kihyun0', '-ERR [AUTH] *');
    await login('new-secret', '+OK *');
  });
});
