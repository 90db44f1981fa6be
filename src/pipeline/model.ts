import type { Readable } from 'node:stream';

// What the bake stage needs from a model source: facts about the version, its file listing,
// and a way to stream each file. MLflow implements it (mlflow-source.ts); bake knows nothing of HTTP.

export interface ModelVersionFacts {
  name: string;
  version: string;
  /** The alias it was resolved through, if any. Not baked into the image: aliases move. */
  alias: string | undefined;
  runId: string | undefined;
  /** MLflow's `source` for the version (`models:/m-...`, `runs:/...`), credentials never included. */
  source: string;
  createdAt: Date;
}

export interface ModelFile {
  /** Relative to the model directory, `/`-separated, exactly as the source lists it. */
  path: string;
  size: number;
}

export interface ModelFiles {
  facts: ModelVersionFacts;
  files: readonly ModelFile[];
  open(file: ModelFile): Promise<Readable>;
}

/** `models:/NAME/VERSION`: the immutable name of what was baked. */
export const versionUri = (f: Pick<ModelVersionFacts, 'name' | 'version'>): string =>
  `models:/${f.name}/${f.version}`;
