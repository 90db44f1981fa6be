// Stage timing for one promotion (PromoteObserver, promote-types.ts), measured from the outside:
// the model source and the image target that promote.ts already holds are wrapped, so bake.ts
// knows nothing of it. Download, bake and push are one streamed pass (the model is never held
// whole), so each is the span from its first to its last byte and the spans overlap.
import { pipeline, type Readable, Transform } from 'node:stream';
import type { Logger } from '../log.ts';
import type { ImageTarget } from '../oci/store.ts';
import type { ModelFiles } from './model.ts';
import type { PromoteObserver, PromoteStage, StageEnd } from './promote-types.ts';

export class StageClock {
  readonly #o: PromoteObserver | undefined;
  readonly #open = new Set<PromoteStage>();
  /** A stage is reported once: the tag written after signing does not reopen `push`. */
  readonly #done = new Set<PromoteStage>();

  constructor(observer: PromoteObserver | undefined) {
    this.#o = observer;
  }

  start(stage: PromoteStage): void {
    if (!this.#o || this.#open.has(stage) || this.#done.has(stage)) return;
    this.#open.add(stage);
    this.#o.stageStart(stage, Date.now());
  }

  end(stage: PromoteStage, end: StageEnd = {}): void {
    if (!this.#o || !this.#open.delete(stage)) return;
    this.#done.add(stage);
    this.#o.stageEnd(stage, Date.now(), end);
  }

  /** A stage that did no work, shown as such rather than missing. */
  skip(stage: PromoteStage, reason: string): void {
    if (!this.#o || this.#done.has(stage)) return;
    this.#done.add(stage);
    this.#o.stageStart(stage, Date.now());
    this.#o.stageEnd(stage, Date.now(), { skipped: reason });
  }

  /** Time `fn` as `stage`; a throw ends the stage with the error and every other open stage too. */
  async run<T>(stage: PromoteStage, fn: () => Promise<T>, end: (v: T) => StageEnd = () => ({})): Promise<T> {
    this.start(stage);
    try {
      const v = await fn();
      this.end(stage, end(v));
      return v;
    } catch (e) {
      this.failOpen(e);
      throw e;
    }
  }

  /** Close whatever is still open (a failure mid-stream) with the error's message. */
  failOpen(e: unknown): void {
    const error = e instanceof Error ? e.message : String(e);
    for (const stage of [...this.#open]) this.end(stage, { error });
  }
}

/** The model source, counting bytes as they are read: the `download` span. */
export function timedModel<M extends ModelFiles>(model: M, clock: StageClock): M {
  const total = model.files.length;
  let done = 0;
  let bytes = 0;
  const open = async (file: ModelFiles['files'][number]): Promise<Readable> => {
    clock.start('download');
    const src = await model.open(file);
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    pipeline(src, counter, (err) => {
      if (err) return;
      done += 1;
      if (done === total) clock.end('download', { bytes, detail: `${total} file${total === 1 ? '' : 's'}` });
    });
    return counter;
  };
  return { ...model, open };
}

/**
 * The image target, counting what is written: the `push` span (blobs and manifests of the image;
 * writes made while signing belong to `sign`). A Proxy, not a copy, so `instanceof` (signable.ts
 * names a registry repository's signatures by it) and the target's private fields keep working.
 */
export function timedTarget(
  target: ImageTarget,
  clock: StageClock,
): { target: ImageTarget; pushed: () => number; signing: (on: boolean) => void } {
  let bytes = 0;
  let signing = false;
  const started = () => {
    if (!signing) clock.start('push');
  };
  const add = (n: number) => {
    if (!signing) bytes += n;
  };
  const wrapped: Partial<ImageTarget> = {
    putBlobStream: async (body, opts) => {
      started();
      const r = await target.putBlobStream(body, opts);
      add(r.size);
      return r;
    },
    putBlob: async (b, mediaType) => {
      started();
      const d = await target.putBlob(b, mediaType);
      add(b.length);
      return d;
    },
    copyBlob: async (desc, from) => {
      started();
      await target.copyBlob(desc, from);
    },
    putManifest: async (m, tag) => {
      started();
      await target.putManifest(m, tag);
      add(m.bytes.length);
    },
  };
  const proxy = new Proxy(target, {
    get(t, key) {
      if (typeof key === 'string' && key in wrapped) return wrapped[key as keyof ImageTarget];
      const v: unknown = Reflect.get(t, key, t);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  return {
    target: proxy,
    pushed: () => bytes,
    signing: (on) => {
      signing = on;
    },
  };
}

/** A logger that also hands every line to the observer (the promotion's own log on the dashboard). */
export function teeLogger(log: Logger, observer: PromoteObserver | undefined): Logger {
  if (!observer) return log;
  return {
    debug: (m, f) => log.debug(m, f),
    info: (m, f) => {
      observer.log('info', m, f);
      log.info(m, f);
    },
    warn: (m, f) => {
      observer.log('warn', m, f);
      log.warn(m, f);
    },
    error: (m, f) => {
      observer.log('error', m, f);
      log.error(m, f);
    },
  };
}
