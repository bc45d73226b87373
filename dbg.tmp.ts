import { parsePath } from './src/mime/mail/address.js';
for (const s of ['<jdoe@example.org>', '<>', '<@a.test,@b.test:user@d.test>', '<"john doe"@example.org>', '<"a\\"b"@example.org>', '<postmaster@[192.0.2.1]>', '<x@[IPv6:2001:db8::1]>', '<user+tag@sub.example.co.uk>']) { console.log(s); console.log(parsePath(s)); }
