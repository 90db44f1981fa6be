/**
 * Whether process `pid` still runs (signal 0 checks without signalling). EPERM means it runs as
 * another user: alive. Used to tell a live owner from a dead one's leftovers (locks, temp files).
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
