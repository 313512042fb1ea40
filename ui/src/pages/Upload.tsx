// Upload: capture files sent to this viewer, which ingests them into the store it
// owns (as `tyto ingest --server` does). Each file's sending shows as it goes; the
// list below follows every upload through its ingest until its sessions are stored.

import { useState } from "preact/hooks";
import { uploadFile, type UploadJob } from "../api";
import { useApp } from "../context";
import { formatBytes, formatCount, formatTime } from "../format";
import { quoteValue } from "../search";
import { usePolling } from "../usePolling";

const REFRESH_MS = 1000;

interface Sending {
  name: string;
  size: number;
  sent: number;
  error: string;
}

export function Upload() {
  const ctx = useApp();
  const [files, setFiles] = useState<File[]>([]);
  const [tags, setTags] = useState("");
  const [sending, setSending] = useState<Sending[]>([]);
  const [busy, setBusy] = useState(false);
  const [jobs, setJobs] = useState<UploadJob[]>([]);
  const [maxBytes, setMaxBytes] = useState(0);
  const [error, setError] = useState("");
  const allowed = ctx.user.admin || ctx.user.upload;

  usePolling<{ data: UploadJob[]; max_bytes: number }>(
    "/api/uploads",
    REFRESH_MS,
    (r) => {
      setJobs(r.data);
      setMaxBytes(r.max_bytes);
      setError("");
    },
    setError,
    allowed,
  );

  if (!allowed) {
    return <div class="page muted">User {ctx.user.name} may not upload captures (an admin can allow it).</div>;
  }

  const send = async () => {
    setBusy(true);
    const state: Sending[] = files.map((f) => ({ name: f.name, size: f.size, sent: 0, error: "" }));
    setSending([...state]);
    for (let i = 0; i < files.length; i++) {
      try {
        await uploadFile(files[i], tags, (sent) => {
          state[i].sent = sent;
          setSending([...state]);
        });
        state[i].sent = state[i].size;
      } catch (e) {
        state[i].error = String((e as Error).message ?? e);
      }
      setSending([...state]);
    }
    setBusy(false);
    setFiles([]);
  };

  return (
    <div class="page upload">
      <section class="panel">
        <div class="panel-head">
          <strong>Upload captures</strong>
          <span class="muted">
            pcap or pcapng, plain, gzip or zstd{maxBytes ? `, up to ${formatBytes(maxBytes)} each` : ""}; ingested
            into this viewer's store, one file at a time
          </span>
        </div>
        <div class="upload-form">
          <input
            type="file"
            id="upload-files"
            multiple
            disabled={busy}
            onChange={(e) => setFiles(Array.from((e.target as HTMLInputElement).files ?? []))}
          />
          <label>
            Tags{" "}
            <input
              id="upload-tags"
              value={tags}
              placeholder="case-42, laptop"
              disabled={busy}
              onInput={(e) => setTags((e.target as HTMLInputElement).value)}
            />
          </label>
          <button id="upload-send" disabled={busy || files.length === 0} onClick={send}>
            {busy ? "Sending…" : files.length ? `Upload ${files.length} file${files.length === 1 ? "" : "s"}` : "Upload"}
          </button>
        </div>
        {sending.map((s) => (
          <div class="upload-sending">
            <span>{s.name}</span>
            <progress max={s.size || 1} value={s.sent} />
            <span class={s.error ? "error-text" : "muted"}>
              {s.error || `${formatBytes(s.sent)} of ${formatBytes(s.size)} sent`}
            </span>
          </div>
        ))}
      </section>
      {error && <div class="error-text">{error}</div>}
      <section class="panel">
        <div class="panel-head">
          <strong>Uploads</strong>
          <span class="muted">{ctx.user.admin ? "everyone's" : "yours"}, newest first</span>
        </div>
        <table class="nodes upload-list">
          <thead>
            <tr>
              <th>File</th>
              <th>State</th>
              <th>Read</th>
              <th>Packets</th>
              <th>Sessions</th>
              <th>Tags</th>
              <th>User</th>
              <th>Sent at</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => (
              <tr data-upload={j.id}>
                <td>{j.name}</td>
                <td class={j.state === "failed" ? "error-text" : ""} title={j.error ?? ""}>
                  {j.state}
                  {j.error ? `: ${j.error}` : ""}
                </td>
                <td>
                  <progress max={j.bytes || 1} value={j.read_bytes} /> {formatBytes(j.read_bytes)} of{" "}
                  {formatBytes(j.bytes)}
                </td>
                <td>{formatCount(j.packets)}</td>
                <td>
                  {j.state === "done" && j.tags.length > 0 ? (
                    <a
                      href="#"
                      onClick={(e) => {
                        e.preventDefault();
                        ctx.openSearch("/sessions", { expression: `tags == ${quoteValue(j.tags[0])}`, date: -1 });
                      }}
                    >
                      {formatCount(j.sessions)}
                    </a>
                  ) : (
                    formatCount(j.sessions)
                  )}
                </td>
                <td>{j.tags.join(", ")}</td>
                <td>{j.user}</td>
                <td>{formatTime(j.created)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
