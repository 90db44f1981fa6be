// Help text written by commander is wrapped by commander; the free text added with addHelpText is
// not, and a terminal would break its long lines mid-word. Every line commander writes (help,
// version, usage errors) passes through here: lines over `width` are broken between words, the
// continuation indented like the line it continues.
export function wrapLines(text: string, width = 80): string {
  return text
    .split('\n')
    .flatMap((line) => wrapLine(line, width))
    .join('\n');
}

function wrapLine(line: string, width: number): string[] {
  if (line.length <= width) return [line];
  const indent = /^\s*/.exec(line)?.[0] ?? '';
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(' ', width);
    // A single word longer than the line (a URL): leave it whole rather than cut it.
    if (cut <= indent.length) break;
    out.push(rest.slice(0, cut).trimEnd());
    rest = indent + rest.slice(cut + 1).trimStart();
  }
  out.push(rest);
  return out;
}
