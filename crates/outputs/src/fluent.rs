//! fluentd's forward protocol, version 1 (as fluentd's and Fluent Bit's `forward`
//! inputs speak it): each run of records with one tag is one Forward-mode message,
//! `[tag, [[EventTime, record], …], {"size": n, "chunk": id}]`, over TCP. With
//! acknowledgements on, the receiver answers `{"ack": id}` once it has taken the
//! chunk; until then the chunk counts as not delivered and is sent again (on a new
//! connection) after a pause. The shared-key handshake is not spoken: point Tyto at
//! an input without `<security>`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use base64::Engine;

use crate::msgpack::{write_event_time, write_str, write_value};
use crate::{Attempt, Deliver, OutputConfig, Shared};

/// An acknowledgement is a small map; a receiver sending more is not followed.
const MAX_ACK_BYTES: u64 = 4096;

pub struct Forward {
    target: String,
    tag: String,
    ack: bool,
    timeout: Duration,
    stream: Option<TcpStream>,
    /// Chunk ids: this run's seed and a counter, so no two chunks share one.
    seed: u64,
    sequence: u64,
}

impl Forward {
    pub fn new(c: &OutputConfig) -> Forward {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Forward {
            target: c.target.clone(),
            tag: c.tag.clone(),
            ack: c.ack,
            timeout: Duration::from_millis(u64::from(c.timeout_ms)),
            stream: None,
            seed: (now.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32),
            sequence: 0,
        }
    }

    fn connect(&mut self) -> Result<&mut TcpStream, String> {
        if self.stream.is_none() {
            let addr = self
                .target
                .to_socket_addrs()
                .map_err(|e| format!("{}: {e}", self.target))?
                .next()
                .ok_or_else(|| format!("{}: no address", self.target))?;
            let s = TcpStream::connect_timeout(&addr, self.timeout).map_err(|e| format!("connect: {e}"))?;
            s.set_write_timeout(Some(self.timeout)).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(self.timeout)).map_err(|e| e.to_string())?;
            let _ = s.set_nodelay(true);
            self.stream = Some(s);
        }
        Ok(self.stream.as_mut().expect("just set"))
    }

    fn chunk_id(&mut self) -> String {
        self.sequence += 1;
        let mut raw = [0u8; 16];
        raw[..8].copy_from_slice(&self.seed.to_be_bytes());
        raw[8..].copy_from_slice(&self.sequence.to_be_bytes());
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    /// Sends one message and, with acknowledgements, waits for its own.
    fn send(&mut self, tag: &str, docs: &[Shared]) -> Result<(), String> {
        let chunk = self.chunk_id();
        let message = message(tag, docs, self.ack.then_some(chunk.as_str()));
        let ack = self.ack;
        let stream = self.connect()?;
        stream.write_all(&message).map_err(|e| format!("send: {e}"))?;
        if !ack {
            return Ok(());
        }
        let mut limited = Read::by_ref(stream).take(MAX_ACK_BYTES);
        let answer = rmpv::decode::read_value(&mut limited).map_err(|e| {
            let timed_out = matches!(&e, rmpv::decode::Error::InvalidMarkerRead(io) | rmpv::decode::Error::InvalidDataRead(io)
                if matches!(io.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
            if timed_out {
                format!("no acknowledgement within {} ms", self.timeout.as_millis())
            } else {
                format!("no acknowledgement: {e}")
            }
        })?;
        let acked = answer
            .as_map()
            .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("ack")))
            .and_then(|(_, v)| v.as_str());
        match acked {
            Some(id) if id == chunk => Ok(()),
            Some(id) => Err(format!("acknowledged chunk {id}, not {chunk}")),
            None => Err(format!("answer is not an acknowledgement: {answer}")),
        }
    }
}

/// One Forward-mode message.
pub fn message(tag: &str, docs: &[Shared], chunk: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(docs.len() * 256 + 64);
    let _ = rmp::encode::write_array_len(&mut out, 3);
    write_str(&mut out, tag);
    let _ = rmp::encode::write_array_len(&mut out, docs.len() as u32);
    for d in docs {
        let _ = rmp::encode::write_array_len(&mut out, 2);
        write_event_time(&mut out, d.time_ns);
        write_value(&mut out, &d.body);
    }
    let _ = rmp::encode::write_map_len(&mut out, if chunk.is_some() { 2 } else { 1 });
    write_str(&mut out, "size");
    let _ = rmp::encode::write_uint(&mut out, docs.len() as u64);
    if let Some(id) = chunk {
        write_str(&mut out, "chunk");
        write_str(&mut out, id);
    }
    out
}

impl Deliver for Forward {
    fn deliver(&mut self, batch: &[Shared]) -> Attempt {
        // Runs of one kind keep the batch's order across tags.
        let mut start = 0;
        while start < batch.len() {
            let kind = batch[start].kind;
            let end = batch[start..].iter().position(|d| d.kind != kind).map_or(batch.len(), |n| start + n);
            let tag = format!("{}.{}", self.tag, kind.as_str());
            if let Err(e) = self.send(&tag, &batch[start..end]) {
                // The connection is in an unknown state: a new one for the next try.
                self.stream = None;
                return Attempt { retry: (start..batch.len()).collect(), error: Some(e), ..Attempt::default() };
            }
            start = end;
        }
        Attempt::default()
    }
}
