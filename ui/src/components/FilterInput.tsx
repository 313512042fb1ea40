// A filter's text box: what is typed stays in the box while the page re-renders (a
// controlled input would be reset to the last committed value by any answer that
// arrives while typing), and the filter changes when the text is committed (Enter or
// leaving the box).

import { useEffect, useState } from "preact/hooks";

interface Props {
  id: string;
  placeholder: string;
  /** The committed value. */
  value: string;
  onCommit: (value: string) => void;
}

export function FilterInput({ id, placeholder, value, onCommit }: Props) {
  const [typed, setTyped] = useState(value);
  // A value committed elsewhere (a link that opens the page filtered) replaces the box's.
  useEffect(() => setTyped(value), [value]);
  return (
    <input
      id={id}
      placeholder={placeholder}
      value={typed}
      onInput={(e) => setTyped(e.currentTarget.value)}
      onChange={(e) => onCommit(e.currentTarget.value.trim())}
    />
  );
}
