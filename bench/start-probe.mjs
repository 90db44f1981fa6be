// Preloaded into a CLI process by bench/rollback.ts (`node --import ./bench/start-probe.mjs ...`):
// reports, on stderr, the wall time from process start to the first outgoing connection (the
// CLI's start-up) and the CPU time the process used by then and by its exit. CPU time is what the
// process itself spent, so it stays meaningful on a machine other processes keep busy. Plain
// JavaScript: a .ts preload would make Node load its type stripper into the measured process.
import net from 'node:net';

const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
let first;
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  first ??= { wall: performance.now(), cpu: cpuMs() };
  return connect.apply(this, args);
};
process.on('exit', () => {
  process.stderr.write(
    `KILN_PROBE ${JSON.stringify({ startWall: first?.wall, startCpu: first?.cpu, exitWall: performance.now(), exitCpu: cpuMs() })}\n`,
  );
});
