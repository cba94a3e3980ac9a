// tools/podman/connect-probe: runs inside a container (see run.sh). Every 500 ms, a new connection to Redis by
// name (a DNS lookup each time, as a client reconnecting does) and one by the address looked up once at the start
// (5 s timeout each), and a lookup timed on its own; prints each failure and each lookup over a second.
const net = require('net');
const dns = require('dns');
const host = process.argv[2];
const stamp = () => new Date().toISOString().slice(11, 22);
dns.lookup(host, (err, ip) => {
  if (err) return void console.log(stamp(), 'cannot resolve', host, err.code);
  const connect = (target, label) => {
    const socket = net.connect(6379, target);
    socket.setTimeout(5000, () => (console.log(stamp(), label, 'timeout'), socket.destroy()));
    socket.on('connect', () => socket.end());
    socket.on('error', (e) => console.log(stamp(), label, 'error', e.code));
  };
  setInterval(() => {
    connect(host, 'byname');
    connect(ip, 'byip');
    const started = Date.now();
    dns.lookup(host, (e) => {
      const ms = Date.now() - started;
      if (e || ms > 1000) console.log(stamp(), 'lookup', e ? e.code : '', ms, 'ms');
    });
  }, 500);
});
