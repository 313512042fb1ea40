// The search expression: field-name completion as you type (and the most frequent
// values after an operator, or shortcuts after `$`), Enter to search, and an expression error shown under
// the column where the expression went wrong.

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { getJson, isAbort, type Field, type SpiReply } from "../api";
import { useApp } from "../context";
import { quoteValue, searchParams } from "../search";

interface Suggestion {
  /** Text that replaces the word at the cursor. */
  insert: string;
  label: string;
  hint: string;
}

interface Word {
  start: number;
  end: number;
  text: string;
  /** The field a value is being typed for, when the word follows an operator. */
  valueFor?: string;
}

const WORD = /[A-Za-z0-9_.\-:*$]/;
/** The shortcut type each field type takes (`$name` values). */
const SHORTCUT_TYPE: Record<string, string> = { ip: "ip", integer: "number", text: "string", lowertext: "string" };

/** The word around the cursor and whether a field name or a value belongs there. */
function wordAt(text: string, cursor: number): Word | null {
  let start = cursor;
  while (start > 0 && WORD.test(text[start - 1])) start--;
  let end = cursor;
  while (end < text.length && WORD.test(text[end])) end++;
  const before = text.slice(0, start).trimEnd();
  if (before === "" || /[(!&|]$/.test(before)) return { start, end, text: text.slice(start, cursor) };
  const op = /([A-Za-z0-9_.\-]+)\s*(==|!=|<=|>=|=|<|>)$/.exec(before);
  if (op) return { start, end, text: text.slice(start, cursor), valueFor: op[1] };
  return null;
}

function fieldSuggestions(fields: Field[], prefix: string): Suggestion[] {
  const p = prefix.toLowerCase();
  const scored: [number, Field][] = [];
  for (const f of fields) {
    const n = f.name.toLowerCase();
    const score = n.startsWith(p) ? 0 : n.includes(p) ? 1 : -1;
    if (score >= 0 && n !== p) scored.push([score, f]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].name.localeCompare(b[1].name));
  return scored.slice(0, 12).map(([, f]) => ({ insert: f.name, label: f.name, hint: f.description }));
}

export function ExpressionBar() {
  const { fields, fieldByName, search, setSearch, user, expressionError: error } = useApp();
  const [text, setText] = useState(search.expression);
  const [cursor, setCursor] = useState(0);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const [values, setValues] = useState<Suggestion[]>([]);
  const input = useRef<HTMLInputElement>(null);
  // Where the caret goes once an accepted suggestion is in the input: set right after
  // that render, before the next key is handled, so fast typing never lands elsewhere.
  const pendingCaret = useRef<number | null>(null);

  useLayoutEffect(() => {
    const pos = pendingCaret.current;
    if (pos === null || !input.current) return;
    pendingCaret.current = null;
    input.current.focus();
    input.current.setSelectionRange(pos, pos);
  }, [text]);

  // In the same render as the new search, so the input never shows the old one.
  useLayoutEffect(() => setText(search.expression), [search.expression]);

  const word = useMemo(() => wordAt(text, cursor), [text, cursor]);

  /** What completes a value typed for `f`: shortcuts after `$`, else the field's
   *  most frequent values (none for a field set, or a type no shortcut has). */
  function valuesFor(f: Field, typed: string): ((signal: AbortSignal) => Promise<Suggestion[]>) | null {
    if (typed.startsWith("$")) {
      const fieldType = SHORTCUT_TYPE[f.type];
      if (!fieldType) return null;
      return (signal) =>
        getJson<{ data: { name: string; description: string; count: number }[] }>(
          "/api/shortcuts",
          { fieldType, searchTerm: typed.slice(1), length: 12 },
          signal,
        ).then((r) =>
          r.data.map((s) => ({ insert: `$${s.name}`, label: `$${s.name}`, hint: s.description || `${s.count} values` })),
        );
    }
    if (f.members) return null;
    const { expression: _, ...range } = searchParams(search);
    const p = typed.toLowerCase();
    return (signal) =>
      getJson<SpiReply>("/api/spiview", { ...range, spi: `${f.name}:20` }, signal).then((r) =>
        (r.spi[f.name] ?? [])
          .filter((v) => String(v.value).toLowerCase().includes(p))
          .slice(0, 12)
          .map((v) => ({ insert: quoteValue(v.value), label: String(v.value), hint: `${v.count} sessions` })),
      );
  }

  // Values after an operator: the field's most frequent values in the current range,
  // or after `$` the shortcuts of the field's type; asked a moment after the last key.
  useEffect(() => {
    setValues([]);
    if (!open || !word?.valueFor || !fieldByName.has(word.valueFor)) return;
    const load = valuesFor(fieldByName.get(word.valueFor)!, word.text);
    if (!load) return;
    const abort = new AbortController();
    const timer = setTimeout(() => {
      load(abort.signal).then(setValues, (e) => {
        if (!isAbort(e)) setValues([]);
      });
    }, 150);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [open, word?.valueFor, word?.text, search.date, search.startTime, search.stopTime]);

  const suggestions: Suggestion[] = !open || !word ? [] : word.valueFor ? values : fieldSuggestions(fields, word.text);

  function accept(s: Suggestion) {
    if (!word) return;
    const tail = text.slice(word.end);
    const spacer = word.valueFor ? "" : " ";
    const next = text.slice(0, word.start) + s.insert + (tail.startsWith(" ") ? "" : spacer) + tail;
    const pos = word.start + s.insert.length + (tail.startsWith(" ") ? 1 : spacer.length);
    pendingCaret.current = pos;
    setText(next);
    setCursor(pos);
    setOpen(false);
  }

  function submit() {
    setOpen(false);
    setSearch({ ...search, expression: text.trim() });
  }

  function onKey(e: KeyboardEvent) {
    if (suggestions.length && open) {
      if (e.key === "ArrowDown") {
        setActive((a) => (a + 1) % suggestions.length);
        e.preventDefault();
        return;
      }
      if (e.key === "ArrowUp") {
        setActive((a) => (a - 1 + suggestions.length) % suggestions.length);
        e.preventDefault();
        return;
      }
      if (e.key === "Tab" || (e.key === "Enter" && active >= 0 && word && word.text !== "")) {
        accept(suggestions[Math.min(active, suggestions.length - 1)]);
        e.preventDefault();
        return;
      }
    }
    if (e.key === "Escape") setOpen(false);
    if (e.key === "Enter") {
      submit();
      e.preventDefault();
    }
  }

  const track = (e: Event) => {
    const el = e.currentTarget as HTMLInputElement;
    setCursor(el.selectionStart ?? el.value.length);
  };

  return (
    <div class="expression">
      <div class="expression-row">
        <div class="expression-box">
          <input
            ref={input}
            id="expression"
            class={error ? "invalid" : ""}
            value={text}
            placeholder="Search: protocols == tls && host.tls == *.example.com"
            spellcheck={false}
            autocomplete="off"
            aria-label="Search expression"
            aria-invalid={error ? "true" : "false"}
            onInput={(e) => {
              setText((e.currentTarget as HTMLInputElement).value);
              track(e);
              setOpen(true);
              setActive(0);
            }}
            onKeyDown={onKey}
            onKeyUp={track}
            onClick={track}
            onBlur={() => setTimeout(() => setOpen(false), 150)}
          />
          {suggestions.length > 0 && (
            <ul class="suggestions" role="listbox">
              {suggestions.map((s, i) => (
                <li
                  key={s.label}
                  role="option"
                  aria-selected={i === active}
                  class={i === active ? "active" : ""}
                  onMouseDown={(e) => {
                    e.preventDefault();
                    accept(s);
                  }}
                >
                  <span class="name">{s.label}</span>
                  <span class="hint">{s.hint}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
        <button class="primary" onClick={submit}>
          Search
        </button>
      </div>
      {error && (
        <div class="expression-error" role="alert">
          {error.column !== undefined && (
            <div class="caret" style={{ marginLeft: `calc(${error.column - 1}ch + 0.6em + 1px)` }}>
              ^
            </div>
          )}
          {error.message}
        </div>
      )}
      {user.expression && <div class="forced">Your searches are limited to: {user.expression}</div>}
    </div>
  );
}
