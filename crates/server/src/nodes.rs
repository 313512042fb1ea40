//! Packets stay on the sensor that captured them. A viewer reads its own node's
//! packets from its pcap folder and asks other sensors for theirs over the
//! node-to-node endpoint, `POST /api/node/packets`, signed with the secret every
//! node shares:
//!
//! ```text
//! X-Tyto-Node-Auth: t=<unix seconds>, node=<asking node>, mac=<hex HMAC-SHA256>
//! mac = HMAC(secret, METHOD "\n" PATH "\n" t "\n" node "\n" hex(SHA-256(body)))
//! ```
//!
//! A signature is good for [`SIGNATURE_LIFE_S`] either side of the answering node's
//! clock, and once: the answering node remembers the signatures it took while they
//! are good. Anything else is refused with 401. The body names packet positions (as the
//! store holds them); the answer is the packets read, framed as
//! [`tyto_pcapstore::frame`] writes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tyto_pcapstore::{
    capture_order, decode_positions, frame_end, frame_packet, frame_start, unframe_each, KeptPackets, PacketPos,
    PacketReader, PcapDir, StoredPacket,
};

use crate::users::hex;
use crate::{ApiError, AppState};

pub const NODE_PATH: &str = "/api/node/packets";
pub const AUTH_HEADER: &str = "x-tyto-node-auth";
/// How far a signature's time may be from the answering node's clock.
pub const SIGNATURE_LIFE_S: i64 = 120;
/// Positions one request may name, and bytes of packets one answer carries.
const MAX_POSITIONS: usize = 2_000_000;
const MAX_ANSWER_BYTES: usize = 256 << 20;
/// Bytes of an answer gathered before they go out.
const ANSWER_CHUNK: usize = 256 << 10;

/// Which node this is and where the others answer.
#[derive(Clone, Debug, Default)]
pub struct NodesConfig {
    /// This process's node name: its packets are read from its own pcap folder.
    pub own: String,
    /// Every node's packets are in this data directory (the embedded store: one
    /// machine, whatever `--node` each ingest used).
    pub all_local: bool,
    /// Node name → base URL (`http://10.1.0.5:8005`).
    pub peers: BTreeMap<String, String>,
    /// The secret nodes share ("": no node-to-node fetch, either way).
    pub secret: String,
}

pub struct Nodes {
    cfg: NodesConfig,
    agent: ureq::Agent,
    seen: SeenSignatures,
}

type HmacSha256 = Hmac<Sha256>;

/// Signatures remembered at most (each for twice [`SIGNATURE_LIFE_S`]); past it new
/// requests are refused rather than old signatures forgotten.
const MAX_SEEN_SIGNATURES: usize = 100_000;

/// The signature of a request.
pub fn sign(secret: &str, method: &str, path: &str, time: i64, node: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{method}\n{path}\n{time}\n{node}\n{}", hex(&Sha256::digest(body))).as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// The signatures taken while they are good, so that none is taken twice.
#[derive(Default)]
pub struct SeenSignatures(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl SeenSignatures {
    /// Takes `mac` (made at `time`) unless it was taken before.
    pub fn take(&self, mac: &str, time: i64, now: i64) -> Result<(), String> {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains_key(mac) {
            return Err("this signed request was already answered (a replay?)".into());
        }
        if seen.len() >= MAX_SEEN_SIGNATURES {
            seen.retain(|_, t| (now - *t).abs() <= SIGNATURE_LIFE_S);
            if seen.len() >= MAX_SEEN_SIGNATURES {
                return Err("too many signed requests at once; try again shortly".into());
            }
        }
        seen.insert(mac.to_string(), time);
        Ok(())
    }
}

/// Checks a request's signature header; says what is wrong otherwise.
pub fn verify(
    secret: &str,
    header: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
    now: i64,
) -> Result<String, String> {
    if secret.is_empty() {
        return Err("this node has no node secret: it answers no other node".into());
    }
    let header = header.ok_or("no X-Tyto-Node-Auth header")?;
    let mut time = None;
    let mut node = None;
    let mut mac = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => time = v.parse::<i64>().ok(),
            Some(("node", v)) => node = Some(v.to_string()),
            Some(("mac", v)) => mac = Some(v.to_string()),
            _ => {}
        }
    }
    let (Some(time), Some(node), Some(mac)) = (time, node, mac) else {
        return Err("X-Tyto-Node-Auth wants t=, node= and mac=".into());
    };
    if (now - time).abs() > SIGNATURE_LIFE_S {
        return Err(format!(
            "the signature's time is {}s from this node's clock (at most {SIGNATURE_LIFE_S}s)",
            now - time
        ));
    }
    let want = sign(secret, method, path, time, &node, body);
    // Compared in constant time: the MAC is the secret's only witness.
    let same = want.len() == mac.len() && want.bytes().zip(mac.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if !same {
        return Err("bad signature (is the node secret the same on both nodes?)".into());
    }
    Ok(node)
}

/// The time and MAC of a signature header (already verified).
fn signature_of(header: &str) -> Option<(i64, String)> {
    let mut time = None;
    let mut mac = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => time = v.parse::<i64>().ok(),
            Some(("mac", v)) => mac = Some(v.to_string()),
            _ => {}
        }
    }
    Some((time?, mac?))
}

fn now_s() -> i64 {
    tyto_schema::time::now_ns() / 1_000_000_000
}

#[derive(Serialize, Deserialize)]
struct PacketsRequest {
    /// Positions in the store's encoding (file markers, then offsets).
    positions: Vec<i64>,
    max_bytes: usize,
}

impl Nodes {
    pub fn new(cfg: NodesConfig) -> Nodes {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Nodes { cfg, agent, seen: SeenSignatures::default() }
    }

    pub fn own(&self) -> &str {
        &self.cfg.own
    }

    /// Whether `node`'s packets are on another machine.
    pub fn is_remote(&self, node: &str) -> bool {
        !(self.cfg.all_local || node == self.cfg.own || node.is_empty())
    }

    /// A session's packets (positions as the store holds them), from this node's pcap
    /// folder or from the node that holds them, up to `max_bytes`, in capture order.
    pub fn read(
        &self,
        data_dir: &Path,
        node: &str,
        positions: &[i64],
        max_bytes: usize,
    ) -> Result<KeptPackets, ApiError> {
        if !self.is_remote(node) {
            return read_local(data_dir, &decode_positions(positions), max_bytes);
        }
        let mut kept = KeptPackets::default();
        kept.gone = self.read_remote(node, positions, max_bytes, &mut |p| kept.packets.push(p))?;
        capture_order(&mut kept.packets);
        Ok(kept)
    }

    /// Another node's packets, each given to `each` as it arrives (nothing of the
    /// answer is held but the packet in hand); returns how many are gone.
    pub fn read_remote(
        &self,
        node: &str,
        positions: &[i64],
        max_bytes: usize,
        each: &mut dyn FnMut(StoredPacket),
    ) -> Result<u64, ApiError> {
        let Some(base) = self.cfg.peers.get(node) else {
            return Err(ApiError {
                status: StatusCode::BAD_GATEWAY,
                message: format!(
                    "the packets are on node {node:?}, whose address this viewer does not know ([nodes.peers] in its configuration)"
                ),
                column: None,
            });
        };
        let body = serde_json::to_vec(&PacketsRequest { positions: positions.to_vec(), max_bytes })
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let t = now_s();
        let mac = sign(&self.cfg.secret, "POST", NODE_PATH, t, &self.cfg.own, &body);
        let gateway = |m: String| ApiError { status: StatusCode::BAD_GATEWAY, message: m, column: None };
        let mut resp = self
            .agent
            .post(format!("{}{NODE_PATH}", base.trim_end_matches('/')))
            .header(AUTH_HEADER, &format!("t={t}, node={}, mac={mac}", self.cfg.own))
            .header("content-type", "application/json")
            .send(body)
            .map_err(|e| gateway(format!("node {node} at {base}: {e}")))?;
        let status = resp.status().as_u16();
        let limit = (max_bytes.min(MAX_ANSWER_BYTES) + (64 << 20)) as u64;
        let reader = resp.body_mut().with_config().limit(limit).reader();
        if status != 200 {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut std::io::Read::take(reader, 4096), &mut text);
            return Err(gateway(format!("node {node} at {base} answered {status}: {}", text.trim())));
        }
        unframe_each(reader, each).map_err(|e| gateway(format!("node {node} at {base}: {e}")))
    }
}

/// A reader of this node's pcap folder.
pub(crate) fn local_reader(data_dir: &Path) -> Result<PacketReader, ApiError> {
    let dir = PcapDir::open(&tyto_schema::DataDir::new(data_dir).pcap(), "local")
        .map_err(|e| ApiError::internal(format!("opening the pcap folder: {e}")))?;
    Ok(PacketReader::new(dir))
}

fn read_local(data_dir: &Path, positions: &[PacketPos], max_bytes: usize) -> Result<KeptPackets, ApiError> {
    local_reader(data_dir)?
        .read_kept(positions, max_bytes)
        .map_err(|e| ApiError::internal(format!("reading a stored packet: {e}")))
}

/// `POST /api/node/packets`: another node asks for packets of this one.
pub async fn packets(State(state): State<AppState>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let header = headers.get(AUTH_HEADER).and_then(|v| v.to_str().ok());
    let now = now_s();
    let checked = verify(&state.nodes.cfg.secret, header, method.as_str(), NODE_PATH, &body, now).and_then(|node| {
        let (time, mac) = header.and_then(signature_of).unwrap_or_default();
        state.nodes.seen.take(&mac, time, now).map(|()| node)
    });
    let asker = match checked {
        Ok(n) => n,
        Err(why) => {
            tracing::warn!("node request refused: {why}");
            return crate::error_response(StatusCode::UNAUTHORIZED, &why);
        }
    };
    let req: PacketsRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return crate::error_response(StatusCode::BAD_REQUEST, &format!("the request body: {e}")),
    };
    if req.positions.len() > MAX_POSITIONS {
        return crate::error_response(
            StatusCode::BAD_REQUEST,
            &format!("at most {MAX_POSITIONS} positions per request"),
        );
    }
    let data_dir = state.data_dir.clone();
    let max = req.max_bytes.min(MAX_ANSWER_BYTES);
    let mut reader = match local_reader(&data_dir) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    tracing::debug!("node {asker}: {} positions", req.positions.len());
    // Streamed as read: a chunk at a time through a small channel, so the answer's
    // size costs this node nothing but the chunk in hand.
    let body = crate::body::stream_body(move |tx| {
        let mut chunk = frame_start().to_vec();
        let (mut bytes, mut gone) = (0usize, 0u64);
        for pos in decode_positions(&req.positions) {
            if bytes >= max {
                break;
            }
            match reader.read(pos) {
                Ok(p) => {
                    bytes += p.data.len();
                    frame_packet(&mut chunk, &p);
                }
                Err(tyto_pcapstore::PcapStoreError::Missing { .. }) => gone += 1,
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            }
            if chunk.len() >= ANSWER_CHUNK && tx.blocking_send(Ok(std::mem::take(&mut chunk).into())).is_err() {
                return;
            }
        }
        frame_end(&mut chunk, gone);
        let _ = tx.blocking_send(Ok(chunk.into()));
    });
    ([(axum::http::header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_hold_for_a_couple_of_minutes_and_for_what_they_sign() {
        let body = br#"{"positions":[-1,24],"max_bytes":10}"#;
        let t = 1_800_000_000;
        let mac = sign("s3cret", "POST", NODE_PATH, t, "viewer", body);
        let header = format!("t={t}, node=viewer, mac={mac}");
        // The node's name is signed: another name with the same MAC is refused.
        let renamed = format!("t={t}, node=other, mac={mac}");
        assert!(verify("s3cret", Some(&renamed), "POST", NODE_PATH, body, t).unwrap_err().contains("bad signature"));
        let seen = SeenSignatures::default();
        assert!(seen.take(&mac, t, t).is_ok());
        assert!(seen.take(&mac, t, t + 1).unwrap_err().contains("already answered"));
        let check = |secret: &str, method: &str, path: &str, body: &[u8], now: i64| {
            verify(secret, Some(&header), method, path, body, now)
        };
        assert_eq!(check("s3cret", "POST", NODE_PATH, body, t + 119), Ok("viewer".into()));
        assert_eq!(check("s3cret", "POST", NODE_PATH, body, t - 100), Ok("viewer".into()));
        assert!(check("s3cret", "POST", NODE_PATH, body, t + 121).unwrap_err().contains("clock"));
        assert!(check("other", "POST", NODE_PATH, body, t).unwrap_err().contains("bad signature"));
        assert!(check("s3cret", "GET", NODE_PATH, body, t).is_err());
        assert!(check("s3cret", "POST", "/api/node/other", body, t).is_err());
        assert!(check("s3cret", "POST", NODE_PATH, b"{}", t).is_err());
        assert!(check("", "POST", NODE_PATH, body, t).unwrap_err().contains("no node secret"));
        assert!(verify("s3cret", None, "POST", NODE_PATH, body, t).is_err());
        assert!(verify("s3cret", Some("t=x"), "POST", NODE_PATH, body, t).is_err());
    }
}
