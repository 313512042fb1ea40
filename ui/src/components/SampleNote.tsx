// Said wherever counts were estimated from a sample of a large store (the API's
// `samplePercent`), with a way to have every session counted instead.

import { formatCount } from "../format";

/** "≈" before a count that is an estimate. */
export function approx(count: number, sampled: boolean): string {
  return sampled ? `≈${formatCount(count)}` : formatCount(count);
}

export function SampleNote({ percent, onExact }: { percent: number | null | undefined; onExact: () => void }) {
  if (percent === null || percent === undefined) return null;
  const shown = percent >= 1 ? percent.toFixed(1) : percent.toPrecision(2);
  return (
    <span
      class="sample-note"
      title="The store is large: these counts were made on a sample of its sessions and scaled up. The most frequent values are reliable; values seen only a few times in the sample may be missing or far off (sessions close in time are sampled together)."
    >
      ≈ estimated from a {shown}% sample{" "}
      <button class="link" onClick={onExact}>
        count every session
      </button>
    </span>
  );
}
