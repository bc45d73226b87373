"""An independent SMTP peer for the client tests: Python's stdlib smtpd (3.11; deprecated, still
present). Listens on 127.0.0.1 port 0, prints {"port": N}, then one JSON line per message received:
envelope, ESMTP options and the body bytes (base64) as smtpd delivers them (dot-unstuffed, lines
joined with LF). argv[1], if given, is the SIZE limit (data_size_limit)."""
import base64
import json
import sys
import warnings

warnings.simplefilter('ignore', DeprecationWarning)
import asyncore  # noqa: E402
import smtpd  # noqa: E402


class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        rec = {
            'from': mailfrom,
            'to': rcpttos,
            'data': base64.b64encode(data).decode('ascii'),
            'mail_options': kw.get('mail_options', []),
            'rcpt_options': kw.get('rcpt_options', []),
        }
        sys.stdout.write(json.dumps(rec) + '\n')
        sys.stdout.flush()
        if any(r.startswith('reject') for r in rcpttos):
            return '554 5.6.0 Rejected by the test peer'
        return None


limit = int(sys.argv[1]) if len(sys.argv) > 1 else 33554432
srv = Sink(('127.0.0.1', 0), None, data_size_limit=limit, enable_SMTPUTF8=True, decode_data=False)
sys.stdout.write(json.dumps({'port': srv.socket.getsockname()[1]}) + '\n')
sys.stdout.flush()
asyncore.loop(timeout=0.5)
