// Group commit: work submitted during one turn of the event loop is applied in ONE transaction,
// and every submitter is answered once it has committed. A commit's cost is the pages it writes
// (measured: ~25 µs per page here), so a burst of webhooks pays for one commit instead of one
// each, while no delivery is ever answered before it is durable. Under no load a batch is one item
// and the only added latency is one event-loop turn.
export class GroupCommit<I, O> {
  readonly #apply: (items: I[]) => O[];
  #pending: Array<{ item: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];

  /** `apply` runs the whole batch in one transaction and returns one output per item, in order. */
  constructor(apply: (items: I[]) => O[]) {
    this.#apply = apply;
  }

  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      // setImmediate runs after the poll phase: every request whose bytes arrived in this turn
      // has been submitted by then.
      if (this.#pending.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    let out: O[];
    try {
      out = this.#apply(batch.map((b) => b.item));
    } catch (e) {
      for (const b of batch) b.reject(e);
      return;
    }
    for (const [i, b] of batch.entries()) b.resolve(out[i] as O);
  }
}
