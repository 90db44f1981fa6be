import { Transform, type TransformCallback } from 'node:stream';

// Progress of long work (bake, promote; later scan, export, import) as events. Library code never
// prints: it calls an optional `onProgress` callback with these events, and the CLI renders them
// (bars on a terminal, a line every few seconds otherwise, one summary line at the end).

export interface ProgressEvent {
  /**
   * A stable id for the stage: `download` (model bytes read from MLflow), `upload` (compressed
   * layer bytes written to the target; download, compression and upload are one streaming pass),
   * `base` (base image layers copied into the target).
   */
  stage: string;
  /** For people: `model risk-classifier/7`, `base layers`. */
  label: string;
  /** Bytes done so far in this stage. */
  done: number;
  /** Bytes this stage will move, when known. */
  total: number | undefined;
  phase: 'start' | 'progress' | 'end';
}

export type ProgressSink = (e: ProgressEvent) => void;

/** Tracks one stage and emits its events; `stream()` counts bytes flowing through a pipeline. */
export class StageProgress {
  readonly #sink: ProgressSink | undefined;
  readonly #stage: string;
  readonly #label: string;
  #total: number | undefined;
  #done = 0;
  #last = 0;
  #started = false;

  constructor(sink: ProgressSink | undefined, stage: string, label: string, total?: number) {
    this.#sink = sink;
    this.#stage = stage;
    this.#label = label;
    this.#total = total;
  }

  start(total?: number): void {
    if (total !== undefined) this.#total = total;
    this.#started = true;
    this.#emit('start');
  }

  add(n: number): void {
    if (!this.#started) this.start();
    this.#done += n;
    // At most ~20 events a second: a 1 GiB stream is ~16k chunks.
    const now = Date.now();
    if (now - this.#last >= 50) {
      this.#last = now;
      this.#emit('progress');
    }
  }

  end(): void {
    if (this.#started) this.#emit('end');
  }

  /** A pass-through that counts what flows. */
  stream(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb: TransformCallback) => {
        this.add(chunk.length);
        cb(null, chunk);
      },
    });
  }

  #emit(phase: ProgressEvent['phase']): void {
    this.#sink?.({ stage: this.#stage, label: this.#label, done: this.#done, total: this.#total, phase });
  }
}

/** 1536 -> "1.5 KiB": sizes in logs, plans and progress lines. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
