// Shortcuts (Arkime's): named lists of addresses, numbers or text that an expression
// names as `$name` — `ip.dst == $servers`. Made here, shared with named users or
// everyone, changed or deleted by their maker (or an admin).

import { useState } from "preact/hooks";
import { ApiError, del, postForm } from "../api";
import { useApp } from "../context";
import { formatCount, formatTime } from "../format";
import { usePolling } from "../usePolling";

interface Shortcut {
  id: number;
  name: string;
  description: string;
  type: "ip" | "number" | "string";
  value: string;
  count: number;
  userId: string;
  users?: string;
  shared: boolean;
  created_ms: number;
  canEdit: boolean;
}

const REFRESH_MS = 2000;
const EXAMPLE_FIELD = { ip: "ip.dst", number: "port.dst", string: "host.dns" };

export function Shortcuts() {
  const { search, openSearch, reportError } = useApp();
  const [editing, setEditing] = useState<number | null>(null);
  const [name, setName] = useState("");
  const [type, setType] = useState<Shortcut["type"]>("ip");
  const [value, setValue] = useState("");
  const [description, setDescription] = useState("");
  const [users, setUsers] = useState("");
  const [shared, setShared] = useState(false);
  const [list, setList] = useState<Shortcut[]>([]);
  const [message, setMessage] = useState("");

  usePolling<{ data: Shortcut[] }>("/api/shortcuts?length=10000", REFRESH_MS, (r) => setList(r.data), setMessage, true);

  function clear() {
    setEditing(null);
    setName("");
    setValue("");
    setDescription("");
    setUsers("");
    setShared(false);
  }

  function edit(s: Shortcut) {
    setEditing(s.id);
    setName(s.name);
    setType(s.type);
    setValue(s.value);
    setDescription(s.description);
    setUsers(s.users ?? "");
    setShared(s.shared);
  }

  async function act(run: () => Promise<unknown>, after?: () => void) {
    try {
      await run();
      setMessage("");
      after?.();
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(String(e), 0);
      setMessage(err.message);
      reportError(err);
    }
  }

  const save = () =>
    act(
      () =>
        postForm(editing === null ? "/api/shortcut" : `/api/shortcut/${editing}`, {
          name,
          type,
          value,
          description,
          users,
          shared: shared ? "true" : "false",
        }),
      clear,
    );

  return (
    <div class="page shortcuts">
      <div class="hunt-form" role="form" aria-label={editing === null ? "New shortcut" : "Change shortcut"}>
        <p class="muted">
          A named list of values: <code>{EXAMPLE_FIELD[type]} == ${name || "name"}</code> matches any of them.
        </p>
        <label>
          Name <input id="shortcut-name" value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <select
          id="shortcut-type"
          aria-label="Type"
          value={type}
          onChange={(e) => setType((e.currentTarget as HTMLSelectElement).value as Shortcut["type"])}
        >
          <option value="ip">IP addresses</option>
          <option value="number">numbers</option>
          <option value="string">text</option>
        </select>
        <label>
          Values{" "}
          <textarea
            id="shortcut-value"
            rows={4}
            placeholder="one per line"
            value={value}
            onInput={(e) => setValue((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </label>
        <label>
          Description{" "}
          <input id="shortcut-description" value={description} onInput={(e) => setDescription((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label>
          Shared with{" "}
          <input
            id="shortcut-users"
            placeholder="user names"
            value={users}
            onInput={(e) => setUsers((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <label>
          <input id="shortcut-shared" type="checkbox" checked={shared} onChange={(e) => setShared((e.currentTarget as HTMLInputElement).checked)} />{" "}
          everyone
        </label>
        <button id="shortcut-save" onClick={save}>
          {editing === null ? "Create" : "Save"}
        </button>
        {editing !== null && <button onClick={clear}>Cancel</button>}
        <span class="error-text">{message}</span>
      </div>
      <table class="nodes shortcut-list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Values</th>
            <th>Description</th>
            <th>Made by</th>
            <th>Shared</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((s) => (
            <tr data-name={s.name}>
              <td>
                <a
                  href="#"
                  title={`search ${EXAMPLE_FIELD[s.type]} == $${s.name}`}
                  onClick={(e) => {
                    e.preventDefault();
                    openSearch("/sessions", { ...search, expression: `${EXAMPLE_FIELD[s.type]} == $${s.name}` });
                  }}
                >
                  <code>${s.name}</code>
                </a>
              </td>
              <td>{s.type}</td>
              <td class="shortcut-count" title={s.value}>
                {formatCount(s.count)}
              </td>
              <td>{s.description}</td>
              <td>{s.userId}</td>
              <td>{s.shared ? "everyone" : s.users || ""}</td>
              <td class="nowrap">{formatTime(s.created_ms * 1e6)}</td>
              <td class="nowrap">
                {s.canEdit && (
                  <>
                    <button onClick={() => edit(s)}>Edit</button>{" "}
                    <button onClick={() => act(() => del(`/api/shortcut/${s.id}`))}>Delete</button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!list.length && <p class="muted">No shortcuts yet.</p>}
    </div>
  );
}
