//! Capture files sent to the viewer (`POST /api/upload`, the Upload page, `tyto
//! ingest --server`): the process that owns the store ingests them, so a `tyto
//! serve` or `tyto run` never shares its database with a second writer.
//!
//! An upload is written to `<data>/uploads/` as it arrives (bounded by
//! [`UploadLimits::max_bytes`]), then waits its turn: one file is ingested at a time
//! by an [`Ingester`] (the command line's pipeline, given at start), whose sessions
//! reach the store as they close, so they appear while the file is read. Jobs and
//! their progress are listed by `GET /api/uploads`; the file is deleted once read
//! (its packets are kept in the data directory's pcap files, as any capture's).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::{Extension, Json};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt as _;
use tyto_schema::time::{format_rfc3339, now_ns};

use crate::auth::Authed;
use crate::{ApiError, AppState};

/// Jobs remembered for the listing (the newest; older ones are forgotten).
const JOBS_KEPT: usize = 200;
/// Uploads waiting for their turn at most; past that a new one is refused (503).
const WAITING_MAX: usize = 16;

/// What reads an uploaded file into the store.
pub trait Ingester: Send + Sync + 'static {
    /// Reads the capture at `path` (pcap or pcapng, maybe gzip or zstd) into the
    /// store, updating `job`'s progress as it goes, and returns once its sessions
    /// are stored. The error says what was wrong and where.
    fn ingest(&self, path: &Path, job: &UploadJob) -> Result<(), String>;
}

/// Bounds of uploads.
#[derive(Clone, Copy, Debug)]
pub struct UploadLimits {
    /// Bytes one upload may hold.
    pub max_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> UploadLimits {
        UploadLimits { max_bytes: 4 << 30 }
    }
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum JobState {
    Receiving = 0,
    Waiting = 1,
    Ingesting = 2,
    Done = 3,
    Failed = 4,
}

impl JobState {
    fn from_u8(v: u8) -> JobState {
        match v {
            0 => JobState::Receiving,
            1 => JobState::Waiting,
            2 => JobState::Ingesting,
            3 => JobState::Done,
            _ => JobState::Failed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Receiving => "receiving",
            JobState::Waiting => "waiting",
            JobState::Ingesting => "ingesting",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
}

/// One uploaded file and how far it got.
pub struct UploadJob {
    pub id: u64,
    /// The file's name as sent (for the listing; never a path on this machine).
    pub name: String,
    pub user: String,
    /// Tags every session of the file gets.
    pub tags: Vec<String>,
    pub created_ns: i64,
    state: AtomicU8,
    /// Bytes received, and read back by the ingest.
    pub received_bytes: AtomicU64,
    pub read_bytes: AtomicU64,
    pub packets: AtomicU64,
    /// Session rows handed to the store.
    pub sessions: AtomicU64,
    finished_ns: AtomicU64,
    error: Mutex<Option<String>>,
}

impl UploadJob {
    pub fn state(&self) -> JobState {
        JobState::from_u8(self.state.load(Ordering::Relaxed))
    }

    fn set_state(&self, s: JobState) {
        self.state.store(s as u8, Ordering::Relaxed);
        if matches!(s, JobState::Done | JobState::Failed) {
            self.finished_ns.store(now_ns().max(0) as u64, Ordering::Relaxed);
        }
    }

    fn fail(&self, why: String) {
        *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        self.set_state(JobState::Failed);
    }

    pub fn to_json(&self) -> Value {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let finished = get(&self.finished_ns);
        json!({
            "id": self.id,
            "name": self.name,
            "user": self.user,
            "tags": self.tags,
            "state": self.state().as_str(),
            "created": format_rfc3339(self.created_ns),
            "finished": (finished > 0).then(|| format_rfc3339(finished as i64)),
            "bytes": get(&self.received_bytes),
            "read_bytes": get(&self.read_bytes),
            "packets": get(&self.packets),
            "sessions": get(&self.sessions),
            "error": self.error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        })
    }
}

/// The uploads of this process: the jobs, and the thread that ingests them in turn.
pub struct Uploads {
    dir: PathBuf,
    limits: UploadLimits,
    jobs: Mutex<VecDeque<Arc<UploadJob>>>,
    next_id: AtomicU64,
    queue: crossbeam_channel::Sender<(PathBuf, Arc<UploadJob>)>,
}

impl Uploads {
    /// Starts the ingesting thread; uploads are kept in `dir` until read. Files left
    /// there by an earlier run (stopped mid-upload or mid-ingest) are deleted: a
    /// partial ingest cannot be told from a whole one.
    pub fn start(dir: &Path, limits: UploadLimits, ingester: Arc<dyn Ingester>) -> std::io::Result<Arc<Uploads>> {
        std::fs::create_dir_all(dir)?;
        for e in std::fs::read_dir(dir)?.flatten() {
            tracing::warn!("deleting {} left by an earlier run (upload it again)", e.path().display());
            let _ = std::fs::remove_file(e.path());
        }
        let (tx, rx) = crossbeam_channel::bounded::<(PathBuf, Arc<UploadJob>)>(WAITING_MAX);
        std::thread::Builder::new().name("tyto-upload".into()).spawn(move || {
            for (path, job) in rx {
                job.set_state(JobState::Ingesting);
                match ingester.ingest(&path, &job) {
                    Ok(()) => job.set_state(JobState::Done),
                    Err(e) => {
                        tracing::warn!("upload {} ({}): {e}", job.id, job.name);
                        job.fail(e);
                    }
                }
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!("deleting {}: {e}", path.display());
                }
            }
        })?;
        Ok(Arc::new(Uploads {
            dir: dir.to_path_buf(),
            limits,
            jobs: Mutex::default(),
            next_id: AtomicU64::new(1),
            queue: tx,
        }))
    }

    fn add_job(&self, name: String, user: String, tags: Vec<String>) -> Arc<UploadJob> {
        let job = Arc::new(UploadJob {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            name,
            user,
            tags,
            created_ns: now_ns(),
            state: AtomicU8::new(JobState::Receiving as u8),
            received_bytes: AtomicU64::new(0),
            read_bytes: AtomicU64::new(0),
            packets: AtomicU64::new(0),
            sessions: AtomicU64::new(0),
            finished_ns: AtomicU64::new(0),
            error: Mutex::new(None),
        });
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.push_back(job.clone());
        while jobs.len() > JOBS_KEPT {
            jobs.pop_front();
        }
        job
    }

    fn find(&self, id: u64) -> Option<Arc<UploadJob>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|j| j.id == id).cloned()
    }

    fn all(&self) -> Vec<Arc<UploadJob>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).iter().rev().cloned().collect()
    }
}

#[derive(Deserialize)]
pub struct UploadParams {
    /// The file's name (shown in the listing).
    name: Option<String>,
    /// Comma-separated tags for every session of the file.
    tags: Option<String>,
}

fn may_upload(authed: &Authed) -> Result<(), ApiError> {
    if authed.user.admin || authed.user.upload {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("user {} may not upload captures", authed.user.name)))
    }
}

fn uploads_of(state: &AppState) -> Result<&Arc<Uploads>, ApiError> {
    state.uploads.as_ref().ok_or_else(|| ApiError {
        status: StatusCode::NOT_FOUND,
        message: "this viewer takes no uploads (it does not own the session store)".into(),
        column: None,
    })
}

/// A name safe to show and to put in a file name: its last path part, other
/// characters than letters, digits, `.`, `-`, `_` replaced, at most 100.
fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let s: String = last
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .take(100)
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "upload.pcap".into()
    } else {
        s
    }
}

/// `POST /api/upload?name=FILE&tags=a,b` with the capture file as the body: stored,
/// then ingested in turn. 202 with the job; 413 past the size limit.
pub async fn upload(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(p): Query<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    may_upload(&authed)?;
    let uploads = uploads_of(&state)?.clone();
    let max = uploads.limits.max_bytes;
    let too_big = || ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!("an upload holds at most {} MiB ([viewer] max_upload_mib)", max >> 20),
        column: None,
    };
    let announced = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max) {
        return Err(too_big());
    }
    let name = clean_name(p.name.as_deref().unwrap_or("upload.pcap"));
    let tags = crate::params::parse_tags(p.tags.as_deref())?;
    let job = uploads.add_job(name.clone(), authed.user.name.clone(), tags);
    let path = uploads.dir.join(format!("{:06}-{name}", job.id));
    let received = receive(body, &path, max, &job).await;
    if let Err(e) = received {
        let _ = tokio::fs::remove_file(&path).await;
        let e = match e {
            Receive::TooBig => too_big(),
            Receive::Io(e) => ApiError::internal(format!("storing the upload in {}: {e}", uploads.dir.display())),
            Receive::Client(e) => ApiError::bad_request(format!("the upload did not arrive whole: {e}")),
        };
        job.fail(e.message.clone());
        return Err(e);
    }
    if job.received_bytes.load(Ordering::Relaxed) == 0 {
        let _ = tokio::fs::remove_file(&path).await;
        job.fail("the upload is empty".into());
        return Err(ApiError::bad_request("the upload is empty: send the capture file as the request body"));
    }
    job.set_state(JobState::Waiting);
    if uploads.queue.try_send((path.clone(), job.clone())).is_err() {
        let _ = tokio::fs::remove_file(&path).await;
        job.fail("too many uploads wait already".into());
        return Err(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("{WAITING_MAX} uploads wait already; send this one later"),
            column: None,
        });
    }
    Ok((StatusCode::ACCEPTED, Json(job.to_json())))
}

enum Receive {
    TooBig,
    Io(std::io::Error),
    Client(String),
}

/// Writes the body to `path` as it comes, stopping past `max` bytes.
async fn receive(body: Body, path: &Path, max: u64, job: &UploadJob) -> Result<(), Receive> {
    let mut file = tokio::fs::File::create(path).await.map_err(Receive::Io)?;
    let mut stream = body.into_data_stream();
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Receive::Client(e.to_string()))?;
        n += chunk.len() as u64;
        if n > max {
            return Err(Receive::TooBig);
        }
        file.write_all(&chunk).await.map_err(Receive::Io)?;
        job.received_bytes.store(n, Ordering::Relaxed);
    }
    file.flush().await.map_err(Receive::Io)?;
    Ok(())
}

/// `GET /api/uploads`: the jobs, newest first (an admin sees everyone's).
pub async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Result<Json<Value>, ApiError> {
    may_upload(&authed)?;
    let uploads = uploads_of(&state)?;
    let jobs: Vec<Value> =
        uploads.all().iter().filter(|j| authed.user.admin || j.user == authed.user.name).map(|j| j.to_json()).collect();
    Ok(Json(json!({ "data": jobs, "max_bytes": uploads.limits.max_bytes })))
}

/// `GET /api/uploads/{id}`: one job.
pub async fn one(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    may_upload(&authed)?;
    let uploads = uploads_of(&state)?;
    let job = id
        .parse::<u64>()
        .ok()
        .and_then(|id| uploads.find(id))
        .filter(|j| authed.user.admin || j.user == authed.user.name)
        .ok_or_else(|| ApiError::not_found(format!("no upload {id:?}")))?;
    Ok(Json(job.to_json()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::parse_tags;

    #[test]
    fn names_lose_their_paths_and_odd_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\caps\\a b;c.pcap"), "a_b_c.pcap");
        assert_eq!(clean_name(".."), "upload.pcap");
        assert_eq!(clean_name(""), "upload.pcap");
        assert_eq!(clean_name(&"x".repeat(500)).len(), 100);
    }

    #[test]
    fn tags_are_bounded() {
        assert_eq!(parse_tags(Some(" a, b ,,")).unwrap(), ["a", "b"]);
        let many: Vec<String> = (0..17).map(|i| format!("t{i}")).collect();
        assert!(parse_tags(Some(&many.join(","))).is_err());
        assert_eq!(parse_tags(Some(&"t,".repeat(17))).unwrap(), ["t"], "a tag given twice is one tag");
        assert!(parse_tags(Some("bad\u{1}")).is_err());
    }
}
