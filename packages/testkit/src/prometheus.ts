import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** One metric family as the parser gives it (prom2json's shape). */
export interface Family {
  name: string;
  type: string;
  metrics: Array<{ labels?: Record<string, string>; value?: string }>;
}

/** A scrape of `GET /metrics`, parsed: tests read values, never match the text. */
export class Scrape {
  private constructor(readonly families: Family[]) {}

  /**
   * The parser folds a histogram's samples into one entry and drops their labels (it handles
   * unlabelled histograms only), so histograms are read as what they are on the wire: untyped
   * `_bucket`, `_sum` and `_count` series, each with its labels.
   */
  static parse(text: string): Scrape {
    return new Scrape(parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, "# TYPE $1 untyped")) as Family[]);
  }

  /** The samples of `name` whose labels include `labels` (a name may come in several runs). */
  private matching(name: string, labels: Record<string, string>) {
    return this.families
      .filter((f) => f.name === name)
      .flatMap((f) => f.metrics)
      .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  }

  has(name: string): boolean {
    return this.families.some((f) => f.name === name || f.name === `${name}_count`);
  }

  /** A counter's or gauge's value, summed over the samples matching `labels` (0 when none). */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.matching(name, labels).reduce((sum, m) => sum + Number(m.value), 0);
  }

  /** A histogram's count and sum over the series matching `labels`. */
  histogram(name: string, labels: Record<string, string> = {}): { count: number; sum: number } {
    return { count: this.value(`${name}_count`, labels), sum: this.value(`${name}_sum`, labels) };
  }

  /** Every value label `label` takes in `name`. */
  labelValues(name: string, label: string): string[] {
    return [...new Set(this.matching(name, {}).map((m) => m.labels?.[label]).filter((v): v is string => v !== undefined))];
  }
}
