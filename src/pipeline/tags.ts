import { KilnError } from '../errors.ts';

const TAG = /^[\w][\w.-]{0,127}$/;

/** Apply the tag template (`{version}`, `{name}`) and check the result is a valid OCI tag. */
const PLACEHOLDERS = ['version', 'name'];

export function tagFor(template: string, m: { name: string; version: string }): string {
  for (const [, p] of template.matchAll(/\{([^}]*)\}/g)) {
    if (!PLACEHOLDERS.includes(p ?? '')) {
      throw new KilnError(
        'TAG_TEMPLATE_INVALID',
        `tag template "${template}" uses an unknown placeholder {${p}}`,
        {
          kind: 'usage',
          hint: `the placeholders are ${PLACEHOLDERS.map((x) => `{${x}}`).join(' and ')}, e.g. --tag v{version}`,
          details: { template, placeholder: p },
        },
      );
    }
  }
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
