import { KilnError } from '../errors.ts';

const TAG = /^[\w][\w.-]{0,127}$/;

/** Apply the tag template (`{version}`, `{name}`) and check the result is a valid OCI tag. */
export function tagFor(template: string, m: { name: string; version: string }): string {
  const tag = template
    .replaceAll('{version}', m.version)
    .replaceAll('{name}', m.name.replace(/[^\w.-]/g, '-'));
  if (!TAG.test(tag)) {
    throw new KilnError(
      'TAG_INVALID',
      `tag template "${template}" gives "${tag}", which is not a valid tag`,
      {
        kind: 'usage',
        hint: 'tags are up to 128 letters, digits, _ . - and must not start with . or -',
      },
    );
  }
  return tag;
}
