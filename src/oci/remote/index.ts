// The registry client's public surface: import from here, not from the individual files.
export { type Challenge, parseChallenges, pickChallenge } from './challenge.ts';
export { Registry, type RegistryOptions } from './client.ts';
export {
  type CredentialResolver,
  type Credentials,
  credentialKeys,
  type DockerConfigFile,
  dockerConfigPath,
  dockerKeychain,
  staticCredentials,
} from './dockerconfig.ts';
export { parseRegistryErrors, type RegistryErrorEntry } from './errors.ts';
export type { TlsOptions } from './http.ts';
export type { FetchedManifest } from './manifests.ts';
export { DEFAULT_RETRY, type RetryPolicy } from './retry.ts';
export { Transport, type TransportOptions } from './transport.ts';
export type { StreamUploadOptions, UploadResult } from './upload.ts';
