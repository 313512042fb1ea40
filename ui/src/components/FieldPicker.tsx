// Choosing a field of the catalogue: a datalist for typed inputs, a select for a fixed
// choice. Names that stand for several fields (`ip`, `host`…) are left out: pages
// that count or graph values need one column.

import { useApp } from "../context";

/** `<datalist id={id}>` of every field, with its description. */
export function FieldNames({ id }: { id: string }) {
  const { fields } = useApp();
  return (
    <datalist id={id}>
      {fields
        .filter((f) => !f.members)
        .map((f) => (
          <option value={f.name}>{f.description}</option>
        ))}
    </datalist>
  );
}

/** A select of the single-valued fields. */
export function FieldSelect({ value, label, onChange }: { value: string; label: string; onChange: (name: string) => void }) {
  const { fields } = useApp();
  return (
    <select value={value} aria-label={label} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
      {fields
        .filter((f) => !f.members && !f.multi)
        .map((f) => (
          <option value={f.name}>{f.name}</option>
        ))}
    </select>
  );
}
