// Preloaded into every service the launcher starts (plain JS: it loads before
// tsx). When the launcher dies, even by kill -9, the IPC channel closes and
// the service drains itself instead of living on as an orphan holding its port.
if (process.channel) {
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
