// Users (admins): everything `tyto user` does — add a user with their rights, change
// the rights (each box takes effect at once), a forced expression and time limit, a
// new password, remove a user.

import { useState } from "preact/hooks";
import { ApiError, del, postForm, type User } from "../api";
import { useApp } from "../context";
import { useApi } from "../useApi";

const RIGHTS: { key: keyof User; title: string }[] = [
  { key: "admin", title: "Admin" },
  { key: "export_pcap", title: "PCAP" },
  { key: "see_packets", title: "Packets" },
  { key: "upload", title: "Upload" },
  { key: "remove_tags", title: "Untag" },
];

function UserRow(props: { u: User; me: string; onChange: () => void; report: (m: string) => void }) {
  const { u } = props;
  const [expression, setExpression] = useState(u.expression ?? "");
  const [limit, setLimit] = useState(u.time_limit_hours ? String(u.time_limit_hours) : "");
  const [password, setPassword] = useState("");

  async function act(what: () => Promise<unknown>, done: string) {
    try {
      await what();
      props.report(done);
      props.onChange();
    } catch (e) {
      props.report(e instanceof ApiError ? e.message : String(e));
    }
  }
  const set = (form: Record<string, string>) => act(() => postForm(`/api/user/${encodeURIComponent(u.name)}`, form), `Changed ${u.name}`);

  return (
    <tr data-user={u.name}>
      <td>{u.name}</td>
      {RIGHTS.map((r) => (
        <td>
          <input
            type="checkbox"
            class={`right-${r.key}`}
            aria-label={`${r.title} for ${u.name}`}
            checked={Boolean(u[r.key])}
            disabled={r.key === "admin" && u.name === props.me}
            onChange={(e) => set({ [r.key]: String((e.currentTarget as HTMLInputElement).checked) })}
          />
        </td>
      ))}
      <td>
        <input class="user-expression" placeholder="none" value={expression} onInput={(e) => setExpression((e.currentTarget as HTMLInputElement).value)} />
        <input class="user-limit" placeholder="hours" size={5} value={limit} onInput={(e) => setLimit((e.currentTarget as HTMLInputElement).value)} />
        <button class="user-save" onClick={() => set(expression.trim() ? { expression, time_limit_hours: limit || "none" } : { no_expression: "true", time_limit_hours: limit || "none" })}>
          Save
        </button>
      </td>
      <td>
        <input class="user-password" type="password" placeholder="new password" value={password} onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)} />
        <button
          class="user-set-password"
          onClick={() => act(() => postForm(`/api/user/${encodeURIComponent(u.name)}/password`, { password }).then(() => setPassword("")), `New password for ${u.name}`)}
        >
          Set
        </button>
      </td>
      <td>
        {u.name !== props.me && (
          <button class="user-remove" onClick={() => act(() => del(`/api/user/${encodeURIComponent(u.name)}`), `Removed ${u.name}`)}>
            Remove
          </button>
        )}
      </td>
    </tr>
  );
}

export function Users() {
  const { user } = useApp();
  const [version, setVersion] = useState(0);
  const users = useApi<User[]>(user.admin ? "/api/users" : null, {}, version);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [rights, setRights] = useState<Record<string, boolean>>({ export_pcap: true, see_packets: true });
  const [message, setMessage] = useState("");

  if (!user.admin) return <div class="page users muted">Only admins manage users.</div>;

  async function add() {
    try {
      const form: Record<string, string> = { name, password };
      for (const r of RIGHTS) form[r.key] = String(Boolean(rights[r.key]));
      await postForm("/api/user", form);
      setMessage(`Added ${name}`);
      setName("");
      setPassword("");
      setVersion((v) => v + 1);
    } catch (e) {
      setMessage(e instanceof ApiError ? e.message : String(e));
    }
  }

  return (
    <div class="page users">
      <div class="tag-bar" role="form" aria-label="New user">
        <input id="new-user-name" placeholder="name" value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        <input id="new-user-password" type="password" placeholder="password" value={password} onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)} />
        {RIGHTS.map((r) => (
          <label>
            <input
              type="checkbox"
              id={`new-user-${r.key}`}
              checked={Boolean(rights[r.key])}
              onChange={(e) => setRights({ ...rights, [r.key]: (e.currentTarget as HTMLInputElement).checked })}
            />{" "}
            {r.title}
          </label>
        ))}
        <button id="new-user-add" onClick={add}>
          Add user
        </button>
        <span class="muted" id="users-message" role="status">
          {message}
        </span>
      </div>
      <table class="nodes user-list">
        <thead>
          <tr>
            <th>Name</th>
            {RIGHTS.map((r) => (
              <th>{r.title}</th>
            ))}
            <th>Forced expression, time limit (hours)</th>
            <th>Password</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(users.data ?? []).map((u) => (
            <UserRow key={`${u.name}-${version}`} u={u} me={user.name} onChange={() => setVersion((v) => v + 1)} report={setMessage} />
          ))}
        </tbody>
      </table>
    </div>
  );
}



