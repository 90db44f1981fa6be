// Stream one model file from the artifact proxy, `GET /api/2.0/mlflow-artifacts/artifacts/<path>`.
// Checked on 3.17.2: the route sends Content-Length, an ETag and `Accept-Ranges: bytes`, and answers
// `Range: bytes=N-` with 206 + Content-Range, so a connection that dies mid-body is resumed from
// the byte it stopped at (If-Range pins the ETag: a changed file is not stitched onto the old one).
// The byte count must equal the listing's size, or the stream fails with ARTIFACT_SIZE_MISMATCH.
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describeCause, KilnError } from '../errors.ts';
import { sleep } from '../sleep.ts';
import { ARTIFACTS_API } from './artifacts.ts';
import type { MlflowClient } from './client.ts';
import { locateModelDir } from './location.ts';
import { backoffDelay } from './retry.ts';
import type { ArtifactFile, ModelVersionInfo } from './types.ts';

export function openModelFile(
  client: MlflowClient,
  info: ModelVersionInfo,
  file: ArtifactFile,
  opts: { signal?: AbortSignal } = {},
): Readable {
  return new ModelFileStream(client, info, file, opts.signal);
}

class ModelFileStream extends Readable {
  readonly #client: MlflowClient;
  readonly #info: ModelVersionInfo;
  readonly #file: ArtifactFile;
  readonly #abort = new AbortController();
  #res: IncomingMessage | undefined;
  #connecting = false;
  #received = 0;
  #etag: string | undefined;
  #rangeOk = false;
  /** Resumes since the last one that made progress; bounded by the client's retry attempts. */
  #stalls = 0;

  constructor(client: MlflowClient, info: ModelVersionInfo, file: ArtifactFile, signal?: AbortSignal) {
    super({ highWaterMark: 1 << 20 });
    this.#client = client;
    this.#info = info;
    this.#file = file;
    signal?.addEventListener('abort', () => this.destroy(signal.reason as Error), { once: true });
    if (signal?.aborted) this.destroy(signal.reason as Error);
  }

  override _read(): void {
    if (this.#res !== undefined) this.#res.resume();
    else if (!this.#connecting) void this.#connect();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#abort.abort(err ?? new Error('download closed'));
    this.#res?.destroy();
    cb(err);
  }

  async #connect(): Promise<void> {
    this.#connecting = true;
    try {
      const { root } = await locateModelDir(this.#client, this.#info);
      const path = `${root}/${this.#file.path}`.split('/').map(encodeURIComponent).join('/');
      const headers: Record<string, string> = {};
      if (this.#received > 0) {
        headers['range'] = `bytes=${this.#received}-`;
        if (this.#etag !== undefined) headers['if-range'] = this.#etag;
      }
      const res = await this.#client.open(this.#client.url(`${ARTIFACTS_API}/${path}`), {
        what: `download ${this.#file.path} of ${this.#info.name}/${this.#info.version}`,
        headers,
        signal: this.#abort.signal,
      });
      if (this.destroyed) return void res.destroy();
      this.#check(res);
      this.#attach(res);
    } catch (e) {
      this.destroy(e as Error);
    } finally {
      this.#connecting = false;
    }
  }

  /** The answer must continue exactly where we are, and agree with the listing's size. */
  #check(res: IncomingMessage): void {
    const length = res.headers['content-length'];
    if (this.#received === 0) {
      this.#etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined;
      this.#rangeOk = res.headers['accept-ranges'] === 'bytes';
      if (res.statusCode === 200 && length !== undefined && Number(length) !== this.#file.size) {
        res.destroy();
        throw this.#mismatch(Number(length), 'the server announced');
      }
      return;
    }
    const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
    if (res.statusCode !== 206 || range?.[1] !== String(this.#received)) {
      res.destroy();
      throw this.#interrupted(
        `the server answered the resume request with HTTP ${res.statusCode}, not the rest of the file`,
      );
    }
    if (range[2] !== '*' && Number(range[2]) !== this.#file.size) {
      res.destroy();
      throw this.#mismatch(Number(range[2]), 'the server announced');
    }
  }

  #attach(res: IncomingMessage): void {
    this.#res = res;
    const start = this.#received;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      return true;
    };
    res.on('data', (chunk: Buffer) => {
      this.#received += chunk.length;
      if (this.#received > this.#file.size) {
        settle();
        return void this.destroy(this.#mismatch(this.#received, 'received at least'));
      }
      if (!this.push(chunk)) res.pause();
    });
    res.on('end', () => {
      if (!settle()) return;
      this.#res = undefined;
      if (this.#received === this.#file.size) this.push(null);
      else this.destroy(this.#mismatch(this.#received, 'received'));
    });
    const broken = (e: Error): void => {
      if (!settle() || this.destroyed) return;
      this.#res = undefined;
      if (this.#received > start) this.#stalls = 0;
      this.#connecting = true; // so a _read during the backoff does not open a second connection
      void this.#resume(e);
    };
    res.on('error', broken);
    res.on('close', () => broken(new Error('connection closed before the end of the body')));
  }

  async #resume(cause: Error): Promise<void> {
    const attempts = this.#client.retry.attempts;
    if (!this.#rangeOk) return void this.destroy(this.#interrupted(describeCause(cause), cause));
    if (++this.#stalls >= attempts) {
      return void this.destroy(
        this.#interrupted(`${describeCause(cause)} (${attempts} tries without progress)`, cause),
      );
    }
    this.#client.log.warn(`download of ${this.#file.path} broke off; resuming with a Range request`, {
      at: this.#received,
      of: this.#file.size,
      reason: describeCause(cause),
    });
    try {
      await sleep(backoffDelay(this.#client.retry, this.#stalls), this.#abort.signal);
    } catch {
      return; // destroyed meanwhile
    }
    if (!this.destroyed) void this.#connect();
  }

  #mismatch(got: number, verb: string): KilnError {
    const f = this.#file;
    return new KilnError(
      'ARTIFACT_SIZE_MISMATCH',
      `${f.path} of ${this.#info.name}/${this.#info.version}: listed as ${f.size} bytes but ${verb} ${got}`,
      {
        hint: 'the file changed while it was read, or the artifact store is inconsistent: retry, and check the store',
        details: { path: f.path, expected: f.size, got },
      },
    );
  }

  #interrupted(reason: string, cause?: unknown): KilnError {
    const f = this.#file;
    return new KilnError(
      'ARTIFACT_DOWNLOAD_INTERRUPTED',
      `download of ${f.path} of ${this.#info.name}/${this.#info.version} broke off at byte ${this.#received} of ${f.size}: ${reason}`,
      {
        hint: this.#rangeOk
          ? 'the connection kept failing: check the network to the MLflow server and retry'
          : 'the server does not support resuming (no Accept-Ranges: bytes); retry the command',
        cause,
        details: { path: f.path, received: this.#received, expected: f.size },
      },
    );
  }
}
