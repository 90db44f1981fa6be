// The InferenceService kiln would apply for an image (what `kiln deploy` renders for a full
// rollout), from the image's own kiln annotations (model name, version, mode). Export writes it
// with the source reference; import renders it again with the new registry's reference, from the
// image it has just verified, so the manifests it writes depend on nothing unsigned but the
// namespace/name recorded at export (the digest is the signed one, unchanged).
import { stringify } from 'yaml';
import { planDeploy } from '../kserve/plan.ts';
import { renderInferenceService } from '../kserve/render.ts';
import type { ImageMode, IsvcRef } from '../kserve/types.ts';
import type { ImageSource, ManifestBytes } from '../oci/store.ts';
import { KEY } from '../pipeline/labels.ts';
import { kilnAnnotations } from '../pipeline/provenance-labels.ts';

export interface IsvcInputs {
  mode: ImageMode;
  model: { name: string; version: string };
}

/** Mode and model from kiln's annotations, or undefined for an image kiln did not bake. */
export async function isvcInputs(source: ImageSource, top: ManifestBytes): Promise<IsvcInputs | undefined> {
  const a = (await kilnAnnotations(source, top))?.annotations;
  const name = a?.[KEY.model];
  const version = a?.[KEY.modelVersion];
  if (!a || !name || !version) return undefined;
  return { mode: a[KEY.mode] === 'modelcar' ? 'modelcar' : 'baked', model: { name, version } };
}

/** The YAML `kubectl apply -f` takes, pinned to `image` (`repo@sha256:...`). */
export function renderIsvcYaml(ref: IsvcRef, image: string, inputs: IsvcInputs, now: Date): string {
  const state = planDeploy(ref, undefined, { image, ...inputs }, now, { generations: false });
  return stringify(renderInferenceService(ref, state, undefined));
}
