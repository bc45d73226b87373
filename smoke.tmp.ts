import { parseContentType, parseContentDisposition, formatParams, formatContentType } from './src/mime/entity/content-type.js';
import { parseAddressList, parseMailbox, parsePath, formatAddressList } from './src/mime/mail/address.js';
import { parseDate, formatDate } from './src/mime/mail/date.js';
import { parseMessageIds } from './src/mime/mail/message-id.js';
const j = (x: unknown) => console.log(JSON.stringify(x));
j(parseContentType('text/plain; charset="utf-8" (comment) format=flowed'));
j(parseContentType('application/x-stuff; title*0*=us-ascii\'en\'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn\'t it!"'));
j(parseContentType("message/external-body; access-type=URL; URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\""));
j(parseContentType("application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A"));
j(parseContentType('multipart/mixed; boundary=----=_Part_123_456.789'));
j(parseContentDisposition('attachment; filename=my file.pdf; size=100'));
j(parseContentDisposition('attachment; filename="=?utf-8?B?7ZWc6rWt7Ja0LnBkZg==?="'));
console.log(formatContentType('application/pdf', { name: '한국어 파일 이름이 아주 아주 길어서 여러 줄로 나누어야 합니다.pdf', x: 'a b', y: 'tok' }));
j(parseAddressList('Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>, A Group(Some people):Chris Jones <c@(Chris\'s host.)public.example>, joe@example.org, John <jdoe@one.test> (my dear friend); (the end of the group), (Empty list)(start)Hidden recipients  :(nobody(that I know))  ;'));
j(parseAddressList('"Joe Q. Public" <john.q.public@example.com>, Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>, <boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>'));
j(parseAddressList('Joe Q. Public <john.q.public@example.com>, Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example, =?utf-8?B?7ZWc6rWt?= =?utf-8?B?7Ja0?= <k@x.kr>, a@b; c@d'));
j(parseMailbox('Joe <joe@example.com>')); try { parseMailbox('joe@@x') } catch (e) { console.log(String(e), (e as any).position) }
j([parsePath('<a@b.com>'), parsePath('<>'), parsePath('<@a,@b:u@d.org>'), parsePath('<"a b"@[1.2.3.4]>'), parsePath('<x@[IPv6:::1]>')]);
try { parsePath('<a@b..c>') } catch (e) { console.log(String(e)) }
console.log(formatAddressList([{name:'Joe Q. Public', address:'j@x'}, {name:'한국', address:'k@x'}, {group:'G', members:[{address:'a@b'}]}]));
for (const d of ['Fri, 21 Nov 1997 09:55:06 -0600', 'Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n               -0330 (Newfoundland Time)', '21 Nov 97 09:55:06 GMT', 'Tue, 1 Jul 2003 10:52:37 +0200', 'Thu Nov 26 04:05:06 2026', '31 Feb 2020 00:00 +0000', 'garbage'])
  console.log(d.replace(/\s+/g,' '), '=>', parseDate(d)?.toISOString());
console.log(formatDate(new Date(Date.UTC(2026,10,26,4,5,6))));
j(parseMessageIds('<a@b> (c) <c@d>\r\n <e\r\n @f> g@h foo'));
