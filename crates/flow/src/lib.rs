//! From packets to sessions.
//!
//! The reader decodes each frame, rebuilds fragmented datagrams, and hands the packet
//! to the worker that owns its flow (a symmetric hash of the session key, so both
//! directions meet in one worker and no lock is taken on the packet path). A worker
//! keeps a bounded table of sessions, reassembles TCP into ordered streams for the
//! protocol analyzers, stores every packet in its pcap files, and writes a
//! [`SessionRecord`](tyto_schema::SessionRecord) when a session closes, idles out,
//! or grows past its row limits (the session then continues in a linked row).

pub mod analyzer;
mod config;
mod counters;
pub mod defrag;
mod key;
pub mod live;
pub mod pipeline;
mod table;
pub mod tcp;
pub mod tcp_health;
mod worker;

pub use config::FlowConfig;
pub use counters::{LiveCounters, SourceCounters, WorkerCounters};
pub use key::{Direction, FlowKey, KeyedPacket};
pub use live::{run_live, LiveSource};
pub use pipeline::{run, Enrich, FileOutcome, PipelineConfig, Progress, RunReport};
pub use worker::{session_id, PacketIn, PieceIn, RecordSink, Worker, WorkerStats};
