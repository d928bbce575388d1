'use strict';
// Peer SMSC for the sms-harness benchmarks, built on the npm package `smpp` (node-smpp).
//
// Accepts any bind (transmitter, receiver, transceiver), answers enquire_link and unbind, and
// answers every submit_sm with an incrementing decimal message_id. With receipts on (the default,
// so that figures compare with our own SMSCs), every submit_sm asking for one
// (registered_delivery bit 0) gets a delivery receipt: a deliver_sm with esm_class 0x04, the
// SMPP 3.4 Appendix B text and the receipted_message_id / message_state TLVs, written right after
// the submit_sm_resp on the same session.
//
// Usage: node server.js --port 2775 [--host 127.0.0.1] [--no-receipts] [--max-seconds 600]
//
// Prints one line `{"event":"listening",...}` when ready, and one `{"event":"stopped",...}` JSON
// line with its counters when it stops (SIGTERM, SIGINT, or --max-seconds elapsed).

const smpp = require('smpp');

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 2775, receipts: true, maxSeconds: 600 };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--port') {
      opts.port = Number(argv[++i]);
    } else if (arg === '--host') {
      opts.host = argv[++i];
    } else if (arg === '--receipts') {
      opts.receipts = true;
    } else if (arg === '--no-receipts') {
      opts.receipts = false;
    } else if (arg === '--max-seconds') {
      opts.maxSeconds = Number(argv[++i]);
    } else {
      process.stderr.write(`unknown argument: ${arg}\n`);
      process.exit(2);
    }
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const stats = {
  sessions: 0,
  binds: 0,
  submits: 0,
  receipts_sent: 0,
  receipts_acked: 0,
  first_submit_at: null,
  last_submit_at: null,
};
let nextId = 1;

function wallSeconds() {
  return (performance.timeOrigin + performance.now()) / 1000;
}

function stamp(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return (
    pad(date.getUTCFullYear() % 100) +
    pad(date.getUTCMonth() + 1) +
    pad(date.getUTCDate()) +
    pad(date.getUTCHours()) +
    pad(date.getUTCMinutes())
  );
}

// A session that can take a receipt for a transmitter session of this system_id.
function receiverFor(systemId) {
  for (const other of server.sessions) {
    if (other.boundAs === 'receiver' && other.systemId === systemId) {
      return other;
    }
  }
  return null;
}

function onSession(session) {
  stats.sessions += 1;
  let bound = null;
  session.on('error', () => {
    // A peer that drops the connection mid-run; the session is closed by node-smpp.
  });
  const bind = (kind) => (pdu) => {
    bound = kind;
    session.boundAs = kind;
    session.systemId = pdu.system_id;
    stats.binds += 1;
    session.send(pdu.response({ system_id: 'nodesmpp' }));
  };
  session.on('bind_transmitter', bind('transmitter'));
  session.on('bind_receiver', bind('receiver'));
  session.on('bind_transceiver', bind('transceiver'));
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    session.close();
  });
  session.on('deliver_sm_resp', () => {
    stats.receipts_acked += 1;
  });
  session.on('submit_sm', (pdu) => {
    const now = wallSeconds();
    if (stats.first_submit_at === null) {
      stats.first_submit_at = now;
    }
    stats.last_submit_at = now;
    stats.submits += 1;
    if (bound !== 'transmitter' && bound !== 'transceiver') {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    const id = String(nextId);
    nextId += 1;
    session.send(pdu.response({ message_id: id }));
    if (!opts.receipts || !(pdu.registered_delivery & 0x01)) {
      return;
    }
    const target = bound === 'transceiver' ? session : receiverFor(session.systemId);
    if (target === null) {
      return;
    }
    const date = stamp(new Date());
    target.deliver_sm({
      source_addr_ton: pdu.dest_addr_ton,
      source_addr_npi: pdu.dest_addr_npi,
      source_addr: pdu.destination_addr,
      dest_addr_ton: pdu.source_addr_ton,
      dest_addr_npi: pdu.source_addr_npi,
      destination_addr: pdu.source_addr,
      esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
      short_message:
        `id:${id} sub:001 dlvrd:001 submit date:${date} done date:${date} ` +
        'stat:DELIVRD err:000 text:',
      receipted_message_id: id,
      message_state: 2,
    });
    stats.receipts_sent += 1;
  });
}

const server = smpp.createServer(onSession);
let stopped = false;

function stop(reason) {
  if (stopped) {
    return;
  }
  stopped = true;
  const span =
    stats.first_submit_at !== null && stats.submits > 1
      ? stats.last_submit_at - stats.first_submit_at
      : 0;
  const line = Object.assign({ event: 'stopped', reason }, stats, {
    submit_rate: span > 0 ? Math.round(((stats.submits - 1) / span) * 10) / 10 : null,
  });
  process.stdout.write(`${JSON.stringify(line)}\n`);
  for (const session of server.sessions.slice()) {
    session.destroy();
  }
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
server.on('error', (err) => {
  process.stderr.write(`node-smpp server error: ${err.message}\n`);
  process.exit(1);
});
server.listen(opts.port, opts.host, () => {
  const address = server.address();
  const line = {
    event: 'listening',
    host: address.address,
    port: address.port,
    receipts: opts.receipts,
    smpp_version: require('smpp/package.json').version,
    node_version: process.version,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  setTimeout(() => stop('max-seconds'), opts.maxSeconds * 1000).unref();
});
