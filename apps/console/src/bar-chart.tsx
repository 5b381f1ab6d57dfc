/** One bar: its label under it, its value for the height, its text for people. */
export interface Bar {
  label: string;
  value: number;
  text: string;
}

const HEIGHT = 160;
const BAR = 28;
const GAP = 8;

/**
 * A bar chart as inline SVG, drawn with attributes only (no style attribute, so the content
 * security policy needs no inline styles). It scales to the width it is given; the table beside
 * it carries the same numbers for screen readers, so the drawing itself is one labelled image.
 */
export function BarChart(props: { title: string; bars: Bar[] }) {
  const { bars } = props;
  if (bars.length === 0) return <p class="chart-empty">Nothing to chart yet.</p>;
  const max = Math.max(...bars.map((b) => b.value), Number.EPSILON);
  const width = bars.length * (BAR + GAP) + GAP;
  const summary = `${props.title}: ${bars.map((b) => `${b.label} ${b.text}`).join(", ")}`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${HEIGHT + 36}`} role="img" aria-label={summary} preserveAspectRatio="xMinYMin meet">
        <title>{summary}</title>
        {bars.map((b, i) => {
          const h = Math.max(1, Math.round((b.value / max) * HEIGHT));
          const x = GAP + i * (BAR + GAP);
          return (
            <g key={b.label}>
              <rect x={x} y={HEIGHT - h + 16} width={BAR} height={h} rx={3} class="bar">
                <title>{`${b.label}: ${b.text}`}</title>
              </rect>
              <text x={x + BAR / 2} y={HEIGHT - h + 12} text-anchor="middle" class="value">
                {b.text}
              </text>
              <text x={x + BAR / 2} y={HEIGHT + 30} text-anchor="middle" class="label">
                {b.label.slice(5)}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>{props.title}</figcaption>
    </figure>
  );
}
