// The parts of @kubernetes/client-node kiln uses, loaded with `await import('./k8s-api.ts')` only
// by commands that talk to a cluster. Naming them here (rather than importing the package's whole
// namespace dynamically) lets the bundler (scripts/build.ts) keep only what these reach: the
// package's generated models and APIs are ~17 MB of JavaScript, and reading them was most of a
// `kiln rollback`'s start-up.
export {
  BatchV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  setHeaderOptions,
} from '@kubernetes/client-node';
