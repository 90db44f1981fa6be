// Where kiln serve's Promoter comes from:
// - inline (default): the real pipeline, `promote` from src/pipeline/promote.ts, in this process;
// - job: a Kubernetes Job per promotion (executor-job.ts);
// - `--promoter MODULE`: a module exporting `createPromoter(ctx)`, for a custom pipeline step in
//   front of or instead of kiln's (and the tests' recording promoter across a process boundary:
//   the same injection point startServer() takes in process, named explicitly on the command line,
//   inert unless passed, and never switched on by an environment variable).
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '../config/schema.ts';
import { describeCause, KilnError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MlflowOptions } from '../mlflow/index.ts';
import { promote, promoteSettings } from '../pipeline/promote.ts';
import type { Promoter } from '../pipeline/promote-types.ts';
import { resolvePassword } from '../sign/password.ts';

export interface PromoterContext {
  config: Config;
  env: NodeJS.ProcessEnv;
  log: Logger;
}

export type PromoterFactory = (ctx: PromoterContext) => Promoter | Promise<Promoter>;

export function inlinePromoter(o: {
  config: Config;
  env: NodeJS.ProcessEnv;
  mlflow: MlflowOptions;
  sourceDateEpoch: number | undefined;
  log: Logger;
}): Promoter {
  return (req) => {
    const settings = promoteSettings(o.config, req.name);
    return promote(req, settings, {
      mlflow: o.mlflow,
      env: o.env,
      // A server never prompts: an encrypted key needs COSIGN_PASSWORD in its environment.
      keyPassword: () =>
        resolvePassword({
          env: o.env,
          tty: undefined,
          confirm: false,
          purpose: `private key ${settings.signKey}`,
        }),
      sourceDateEpoch: o.sourceDateEpoch,
      log: o.log,
    });
  };
}

export async function loadPromoterModule(path: string, cwd: string, ctx: PromoterContext): Promise<Promoter> {
  const file = isAbsolute(path) ? path : resolve(cwd, path);
  let mod: { createPromoter?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { createPromoter?: unknown };
  } catch (e) {
    throw new KilnError(
      'PROMOTER_MODULE_INVALID',
      `cannot load promoter module ${file}: ${describeCause(e)}`,
      {
        kind: 'usage',
        hint: 'pass a .js/.ts module path that exports createPromoter(ctx)',
        cause: e,
      },
    );
  }
  if (typeof mod.createPromoter !== 'function') {
    throw new KilnError('PROMOTER_MODULE_INVALID', `promoter module ${file} does not export createPromoter`, {
      kind: 'usage',
      hint: 'export function createPromoter(ctx) returning (req) => Promise<PromoteResult>',
    });
  }
  const promoter: unknown = await (mod.createPromoter as PromoterFactory)(ctx);
  if (typeof promoter !== 'function') {
    throw new KilnError('PROMOTER_MODULE_INVALID', `createPromoter in ${file} did not return a function`, {
      kind: 'usage',
    });
  }
  return promoter as Promoter;
}
