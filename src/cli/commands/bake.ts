import { action } from '../context.ts';
import { notImplemented } from './not-implemented.ts';
import type { RegisterCommand } from './types.ts';

export const registerBake: RegisterCommand = (program, io) =>
  program
    .command('bake')
    .description('bake an MLflow model version into an OCI image and push it by digest')
    .argument('<model>', 'models:/NAME@ALIAS or models:/NAME/VERSION')
    .option('--to <target>', 'registry repository, oci:DIR or oci-archive:FILE.tar (default: build.target)')
    .option('--base <image>', 'base image (registry reference or oci:DIR[:tag|@digest])')
    .option('--mode <mode>', 'baked (files in /mnt/models) | modelcar (files in /models)')
    .option('--compression <c>', 'gzip | zstd | none')
    .option('--tag <template>', 'tag template, {version} is the model version (default: v{version})')
    .option('--force-tag', 'move the tag even if it points at another digest')
    .action(action(io, () => notImplemented('bake')));
