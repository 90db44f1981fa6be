// Prometheus text exposition format 0.0.4, by hand
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format).
// Why no library: kiln exposes five metrics; counters, a callback gauge and one histogram are ~100
// lines, while prom-client brings a process-global registry and dependencies to audit. The format
// is small and stable: HELP/TYPE lines, `name{label="value"} number`, escaped label values, and
// cumulative histogram buckets ending in le="+Inf" plus _sum and _count.

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

export class Counter {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const cur = this.#values.get(key);
    if (cur) cur.value += by;
    else this.#values.set(key, { labels, value: by });
  }
  get(labels: Labels = {}): number {
    return this.#values.get(labelText(labels))?.value ?? 0;
  }
  samples(name: string): string[] {
    return [...this.#values.values()].map((v) => `${name}${labelText(v.labels)} ${num(v.value)}`);
  }
}

export class Histogram {
  readonly buckets: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  constructor(buckets: readonly number[]) {
    this.buckets = [...buckets].sort((a, b) => a - b);
    this.#counts = this.buckets.map(() => 0);
  }
  observe(value: number): void {
    this.#sum += value;
    this.#count += 1;
    for (const [i, le] of this.buckets.entries()) if (value <= le) this.#counts[i]! += 1;
  }
  samples(name: string): string[] {
    return [
      ...this.buckets.map((le, i) => `${name}_bucket{le="${num(le)}"} ${this.#counts[i]}`),
      `${name}_bucket{le="+Inf"} ${this.#count}`,
      `${name}_sum ${num(this.#sum)}`,
      `${name}_count ${this.#count}`,
    ];
  }
}

export class Registry {
  readonly #families: Family[] = [];

  counter(name: string, help: string): Counter {
    const c = new Counter();
    this.#families.push({ name, help, type: 'counter', render: () => c.samples(name) });
    return c;
  }

  /** Read at scrape time (e.g. the queue depth from the state store), so it is never stale. */
  gauge(name: string, help: string, read: () => number): void {
    this.#families.push({ name, help, type: 'gauge', render: () => [`${name} ${num(read())}`] });
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    const h = new Histogram(buckets);
    this.#families.push({ name, help, type: 'histogram', render: () => h.samples(name) });
    return h;
  }

  render(): string {
    const lines: string[] = [];
    for (const f of this.#families) {
      lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      lines.push(`# TYPE ${f.name} ${f.type}`);
      lines.push(...f.render());
    }
    return `${lines.join('\n')}\n`;
  }
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k] as string)}"`).join(',')}}`;
}

export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}
