//! Tyto's own packet files: every packet a worker sees is appended to a classic pcap
//! file (nanosecond timestamps; one file per link type, rotated by size and age), and
//! the writer returns the packet's place so a session can find its packets again
//! without scanning. The reader fetches packets back by that place, and
//! [`ExportWriter`] writes a pcap that Wireshark and tshark open.
//!
//! Files are named `{node}-{id:08}.pcap`; ids come from one counter per data
//! directory, so a file id alone says which file to open.

mod wire;
pub use wire::{frame, frame_end, frame_packet, frame_start, unframe, unframe_each};

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Nanosecond-resolution classic pcap.
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const MAGIC_US: u32 = 0xa1b2_c3d4;
const FILE_HEADER_LEN: u64 = 24;
const RECORD_HEADER_LEN: u64 = 16;
/// The snap length written into headers, and the largest record read back.
pub const MAX_PACKET_LEN: u32 = 1 << 20;
/// Link types open at once per writer; a mix beyond this closes the least used.
const MAX_OPEN_LINK_TYPES: usize = 8;
/// Write buffer per open file.
const WRITE_BUFFER: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PcapStoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a pcap file written by Tyto (bad header)")]
    BadHeader { path: PathBuf },
    #[error("{path}: no packet record at byte {offset} ({why})")]
    BadRecord { path: PathBuf, offset: u64, why: &'static str },
    #[error("pcap file {id} is gone from {dir} (deleted by retention?)")]
    Missing { dir: PathBuf, id: u32 },
    #[error("these packets mix link types {0} and {1}, which one pcap file cannot hold")]
    MixedLinkTypes(u32, u32),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PcapStoreError + '_ {
    move |source| PcapStoreError::Io { path: path.to_owned(), source }
}

/// Where a stored packet is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketPos {
    pub file: u32,
    pub offset: u64,
}

/// When to start a new file.
#[derive(Clone, Copy, Debug)]
pub struct RotationPolicy {
    /// Bytes per file before rotating.
    pub max_file_bytes: u64,
    /// Packet-time seconds per file before rotating (0: never by age).
    pub max_file_age_s: u64,
    /// zstd level to compress files with (`.pcap.zst`), or none.
    pub zstd_level: Option<i32>,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy { max_file_bytes: 1 << 30, max_file_age_s: 0, zstd_level: None }
    }
}

/// The pcap folder of a data directory, and its file-id counter shared by workers.
#[derive(Clone, Debug)]
pub struct PcapDir {
    dir: PathBuf,
    node: String,
    next_id: Arc<AtomicU32>,
    /// Files being written now: retention never deletes these.
    open: Arc<Mutex<BTreeSet<u32>>>,
}

impl PcapDir {
    /// Opens (creating) the folder; new files get ids after the highest present.
    pub fn open(dir: &Path, node: &str) -> Result<PcapDir, PcapStoreError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut max = 0;
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            if let Some(id) = parse_file_id(&entry.file_name().to_string_lossy()) {
                max = max.max(id);
            }
        }
        Ok(PcapDir {
            dir: dir.to_owned(),
            node: node.to_owned(),
            next_id: Arc::new(AtomicU32::new(max + 1)),
            open: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The path of file `id`, whichever node wrote it.
    pub fn file_path(&self, id: u32) -> Result<PathBuf, PcapStoreError> {
        for compressed in [false, true] {
            let own = self.dir.join(file_name(&self.node, id, compressed));
            if own.exists() {
                return Ok(own);
            }
        }
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            if parse_file_id(&entry.file_name().to_string_lossy()) == Some(id) {
                return Ok(entry.path());
            }
        }
        Err(PcapStoreError::Missing { dir: self.dir.clone(), id })
    }

    /// Tyto's files in the folder (any node's), lowest id (oldest) first.
    pub fn files(&self) -> Result<Vec<StoredFile>, PcapStoreError> {
        let mut out = Vec::new();
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            let Some(id) = parse_file_id(&entry.file_name().to_string_lossy()) else { continue };
            let Ok(meta) = entry.metadata() else { continue };
            out.push(StoredFile {
                id,
                path: entry.path(),
                bytes: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                open: open.contains(&id),
            });
        }
        out.sort_by_key(|f| f.id);
        Ok(out)
    }

    /// A writer for one worker.
    pub fn writer(&self, policy: RotationPolicy) -> PcapWriter {
        PcapWriter { dir: self.clone(), policy, open: Vec::new(), finished: Vec::new() }
    }
}

fn file_name(node: &str, id: u32, compressed: bool) -> String {
    format!("{node}-{id:08}.pcap{}", if compressed { ".zst" } else { "" })
}

/// A pcap file in the folder.
#[derive(Clone, Debug)]
pub struct StoredFile {
    pub id: u32,
    pub path: PathBuf,
    pub bytes: u64,
    pub modified: SystemTime,
    /// Being written now.
    pub open: bool,
}

/// When old pcap files go.
#[derive(Clone, Copy, Debug, Default)]
pub struct RetentionPolicy {
    /// Delete the oldest files while the file system has less free than this.
    pub min_free_bytes: u64,
    /// Delete files last written longer ago than this.
    pub max_age: Option<Duration>,
}

/// What one pass of retention did.
#[derive(Debug, Default)]
pub struct RetentionOutcome {
    pub deleted: Vec<StoredFile>,
    /// Free space is still under the limit and only files being written are left.
    pub still_short: bool,
}

/// Deletes the oldest files, never one being written, until the policy holds.
/// `free_bytes` says how much the file system has free (statvfs in production).
pub fn enforce_retention(
    dir: &PcapDir,
    policy: &RetentionPolicy,
    now: SystemTime,
    free_bytes: &mut dyn FnMut() -> Option<u64>,
) -> Result<RetentionOutcome, PcapStoreError> {
    let mut out = RetentionOutcome::default();
    let files = dir.files()?;
    let mut remaining = Vec::new();
    for f in files {
        let too_old = policy.max_age.is_some_and(|age| now.duration_since(f.modified).is_ok_and(|d| d > age));
        if too_old && !f.open {
            remove(&f)?;
            out.deleted.push(f);
        } else {
            remaining.push(f);
        }
    }
    if policy.min_free_bytes > 0 {
        let mut candidates = remaining.into_iter().filter(|f| !f.open);
        while free_bytes().is_some_and(|free| free < policy.min_free_bytes) {
            match candidates.next() {
                Some(f) => {
                    remove(&f)?;
                    out.deleted.push(f);
                }
                None => {
                    out.still_short = true;
                    break;
                }
            }
        }
    }
    Ok(out)
}

fn remove(f: &StoredFile) -> Result<(), PcapStoreError> {
    match fs::remove_file(&f.path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(PcapStoreError::Io { path: f.path.clone(), source: e }),
    }
}

/// `anything-00000042.pcap` (or `.pcap.zst`) → 42.
pub fn parse_file_id(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(".pcap").or_else(|| name.strip_suffix(".pcap.zst"))?;
    let (_, id) = stem.rsplit_once('-')?;
    if id.len() != 8 {
        return None;
    }
    id.parse().ok()
}

/// A file this writer produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    pub id: u32,
    pub path: PathBuf,
    pub link_type: u32,
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: i64,
    pub last_ns: i64,
}

struct OpenFile {
    info: WrittenFile,
    out: BufWriter<File>,
    zstd: Option<ZstdFrames>,
}

/// A compressed file is a run of independent zstd frames, each holding whole packet
/// records (up to [`ZSTD_FRAME`] bytes of pcap before compression), so one packet is
/// read by decompressing one frame; the whole file is still an ordinary `.zst` of a
/// pcap. A packet's offset is `frame start << 20 | offset inside the frame`.
struct ZstdFrames {
    level: i32,
    /// The frame being filled (uncompressed).
    frame: Vec<u8>,
    /// Compressed bytes written before it: where it will start.
    start: u64,
}

/// Uncompressed bytes per zstd frame of a stored file.
const ZSTD_FRAME: usize = 256 * 1024;
/// Bits of a compressed file's packet offset that hold the offset inside the frame.
const ZSTD_WITHIN_BITS: u32 = 20;

impl ZstdFrames {
    /// Compresses the frame being filled and writes it out.
    fn end_frame(&mut self, out: &mut BufWriter<File>, path: &Path) -> Result<(), PcapStoreError> {
        if self.frame.is_empty() {
            return Ok(());
        }
        let packed = zstd::bulk::compress(&self.frame, self.level).map_err(io_err(path))?;
        out.write_all(&packed).map_err(io_err(path))?;
        self.start += packed.len() as u64;
        self.frame.clear();
        Ok(())
    }
}

/// Appends packets to rotated pcap files. One per worker: no locking.
pub struct PcapWriter {
    dir: PcapDir,
    policy: RotationPolicy,
    /// Most recently used last.
    open: Vec<OpenFile>,
    finished: Vec<WrittenFile>,
}

impl PcapWriter {
    /// Writes one packet and says where it went.
    pub fn write(
        &mut self,
        link_type: u32,
        ts_ns: i64,
        wire_len: u32,
        data: &[u8],
    ) -> Result<PacketPos, PcapStoreError> {
        let data = &data[..data.len().min(MAX_PACKET_LEN as usize)];
        let idx = match self.open.iter().position(|f| f.info.link_type == link_type) {
            Some(i) => {
                let f = &self.open[i];
                let too_big = f.info.bytes + RECORD_HEADER_LEN + data.len() as u64 > self.policy.max_file_bytes
                    && f.info.packets > 0;
                let too_old = self.policy.max_file_age_s > 0
                    && ts_ns.saturating_sub(f.info.first_ns)
                        >= (self.policy.max_file_age_s as i64).saturating_mul(1_000_000_000);
                if too_big || too_old {
                    let f = self.open.remove(i);
                    self.close(f)?;
                    self.create(link_type, ts_ns)?
                } else {
                    i
                }
            }
            None => {
                if self.open.len() >= MAX_OPEN_LINK_TYPES {
                    let f = self.open.remove(0);
                    self.close(f)?;
                }
                self.create(link_type, ts_ns)?
            }
        };
        let f = &mut self.open[idx];
        let mut offset = f.info.bytes;
        let hdr = record_header(ts_ns, data.len() as u32, wire_len);
        let path = &f.info.path;
        match f.zstd.as_mut() {
            None => {
                f.out.write_all(&hdr).map_err(io_err(path))?;
                f.out.write_all(data).map_err(io_err(path))?;
            }
            Some(z) => {
                if !z.frame.is_empty() && z.frame.len() + hdr.len() + data.len() > ZSTD_FRAME {
                    z.end_frame(&mut f.out, path)?;
                }
                offset = (z.start << ZSTD_WITHIN_BITS) | z.frame.len() as u64;
                z.frame.extend_from_slice(&hdr);
                z.frame.extend_from_slice(data);
            }
        }
        f.info.bytes += RECORD_HEADER_LEN + data.len() as u64;
        f.info.packets += 1;
        f.info.last_ns = f.info.last_ns.max(ts_ns);
        let pos = PacketPos { file: f.info.id, offset };
        if idx + 1 != self.open.len() {
            let f = self.open.remove(idx);
            self.open.push(f);
        }
        Ok(pos)
    }

    fn create(&mut self, link_type: u32, ts_ns: i64) -> Result<usize, PcapStoreError> {
        let id = self.dir.next_id.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.dir.join(file_name(&self.dir.node, id, self.policy.zstd_level.is_some()));
        let file = OpenOptions::new().write(true).create_new(true).open(&path).map_err(io_err(&path))?;
        self.dir.open.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        let header = file_header(MAGIC_NS, link_type);
        let zstd = match self.policy.zstd_level {
            Some(level) => Some(ZstdFrames { level, frame: header.to_vec(), start: 0 }),
            None => {
                out.write_all(&header).map_err(io_err(&path))?;
                None
            }
        };
        self.open.push(OpenFile {
            info: WrittenFile {
                id,
                path,
                link_type,
                packets: 0,
                bytes: FILE_HEADER_LEN,
                first_ns: ts_ns,
                last_ns: ts_ns,
            },
            out,
            zstd,
        });
        Ok(self.open.len() - 1)
    }

    fn close(&mut self, mut f: OpenFile) -> Result<(), PcapStoreError> {
        let flushed = flush_file(&mut f);
        self.dir.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&f.info.id);
        flushed?;
        self.finished.push(f.info);
        Ok(())
    }

    /// Pushes buffered packets to the files (they stay open).
    /// A compressed file's frame is ended there (live capture flushes each second, so
    /// frames are smaller at low rates).
    pub fn flush(&mut self) -> Result<(), PcapStoreError> {
        for f in &mut self.open {
            flush_file(f)?;
        }
        Ok(())
    }

    /// The files closed since the last call, oldest first.
    pub fn take_finished(&mut self) -> Vec<WrittenFile> {
        std::mem::take(&mut self.finished)
    }

    /// Flushes and closes every file; returns all files written.
    pub fn finish(mut self) -> Result<Vec<WrittenFile>, PcapStoreError> {
        while let Some(f) = self.open.pop() {
            self.close(f)?;
        }
        self.finished.sort_by_key(|f| f.id);
        Ok(std::mem::take(&mut self.finished))
    }
}

fn flush_file(f: &mut OpenFile) -> Result<(), PcapStoreError> {
    if let Some(z) = f.zstd.as_mut() {
        z.end_frame(&mut f.out, &f.info.path)?;
    }
    f.out.flush().map_err(io_err(&f.info.path))
}

/// The header of a nanosecond-resolution classic pcap file of `link_type`.
pub fn pcap_file_header(link_type: u32) -> [u8; 24] {
    file_header(MAGIC_NS, link_type)
}

/// What [`PacketReader::read_kept`] found.
#[derive(Debug, Default)]
pub struct KeptPackets {
    pub packets: Vec<StoredPacket>,
    /// Packets whose files are gone (deleted by retention).
    pub gone: u64,
    pub gone_files: BTreeSet<u32>,
}

impl KeptPackets {
    /// "packets of pcap files 3, 4 were deleted by retention".
    pub fn gone_message(&self) -> String {
        let ids: Vec<String> = self.gone_files.iter().map(|i| i.to_string()).collect();
        format!(
            "{} packets are gone: pcap file{} {} deleted by retention",
            self.gone,
            if ids.len() == 1 { "" } else { "s" },
            ids.join(", ")
        )
    }
}

/// A packet record's header in a nanosecond pcap file.
pub fn record_header(ts_ns: i64, captured: u32, wire_len: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&(ts_ns.div_euclid(1_000_000_000) as u32).to_le_bytes());
    h[4..8].copy_from_slice(&(ts_ns.rem_euclid(1_000_000_000) as u32).to_le_bytes());
    h[8..12].copy_from_slice(&captured.to_le_bytes());
    h[12..16].copy_from_slice(&wire_len.max(captured).to_le_bytes());
    h
}

fn file_header(magic: u32, link_type: u32) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&magic.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    h[16..20].copy_from_slice(&MAX_PACKET_LEN.to_le_bytes());
    h[20..24].copy_from_slice(&link_type.to_le_bytes());
    h
}

/// A packet read back from a stored file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPacket {
    pub pos: PacketPos,
    pub link_type: u32,
    pub ts_ns: i64,
    pub wire_len: u32,
    pub data: Vec<u8>,
}

/// Reads packets back by position, keeping a few files open.
pub struct PacketReader {
    dir: PcapDir,
    /// The files open (at most [`MAX_READER_FILES`]), and which was used last:
    /// nearly every read is of the file the last one read.
    files: Vec<(u32, OpenedFile)>,
    last_file: usize,
    blocks: BlockCache,
}

/// Bytes of an uncompressed file read at once where reads go on one after another,
/// and how many reads a reader keeps. Why: packets of sessions that start close
/// together lie close together in the files, so an export walking sessions in start
/// order finds most packets in blocks it read already; reading each packet alone
/// cost a seek and two reads.
const BLOCK_BYTES: u64 = 256 << 10;
const BLOCKS_KEPT: usize = 64;
/// What reads are aligned to, and read at least: the page cache's pages. Reads that
/// go on one after another grow from a page to a block, as the kernel's read-ahead
/// does; one that lands away from the last (a few sessions' packets among many, a
/// packet out of time order) reads a page again. Why: a whole block for each such
/// packet read 110 times the bytes an export of DNS from a 200 MB capture wrote.
const PAGE_BYTES: u64 = 4 << 10;

/// What a reader read last: at most [`BLOCKS_KEPT`] reads, few enough to search in
/// order, none crossing a block's end.
#[derive(Default)]
struct BlockCache {
    /// (file id, offset of the first byte, when last used, the bytes read).
    blocks: Vec<(u32, u64, u64, Vec<u8>)>,
    clock: u64,
    /// The read used last, looked at first: reads mostly go on where the last ended.
    last: usize,
    /// Where the last read ended (file id, offset), and how many bytes it read.
    last_end: Option<(u32, u64)>,
    window: u64,
}

impl BlockCache {
    /// Appends `len` bytes of file `id` from `offset` to `out`; false when the file
    /// ends before.
    fn copy(&mut self, id: u32, file: &File, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<bool> {
        let end = offset + len as u64;
        let mut at = offset;
        while at < end {
            let within = (at % BLOCK_BYTES) as usize;
            let want = (end - at).min(BLOCK_BYTES - within as u64) as usize;
            let Some(piece) = self.piece(id, file, at, want)? else { return Ok(false) };
            out.extend_from_slice(piece);
            at += want as u64;
        }
        Ok(true)
    }

    /// The `len` bytes of file `id` from `offset`, which lie in one block; `None` when
    /// the file ends before.
    fn piece(&mut self, id: u32, file: &File, offset: u64, len: usize) -> io::Result<Option<&[u8]>> {
        let end = offset + len as u64;
        let holds = |b: &(u32, u64, u64, Vec<u8>)| b.0 == id && b.1 <= offset && end <= b.1 + b.3.len() as u64;
        self.clock += 1;
        let found = match self.blocks.get(self.last) {
            Some(b) if holds(b) => Some(self.last),
            _ => self.blocks.iter().position(holds),
        };
        // Not read yet, or read short (the file's end, or a file still being
        // written): read now.
        let i = match found {
            Some(i) => i,
            None => {
                // Twice the last read when this one goes on from it, else a page.
                self.window = match self.last_end {
                    Some((f, e)) if f == id && (e..e + 2 * self.window).contains(&offset) => {
                        (2 * self.window).min(BLOCK_BYTES)
                    }
                    _ => PAGE_BYTES,
                };
                let block_end = offset - offset % BLOCK_BYTES + BLOCK_BYTES;
                let start = offset - offset % PAGE_BYTES;
                let stop = (start + self.window).max(end.next_multiple_of(PAGE_BYTES)).min(block_end);
                let i = if self.blocks.len() < BLOCKS_KEPT {
                    self.blocks.push((u32::MAX, 0, 0, Vec::new()));
                    self.blocks.len() - 1
                } else {
                    // Full: the least recently used read makes room.
                    (0..self.blocks.len()).min_by_key(|&i| self.blocks[i].2).unwrap_or(0)
                };
                let mut bytes = std::mem::take(&mut self.blocks[i].3);
                // Forgotten first: a failed read leaves nothing under this name.
                self.blocks[i].0 = u32::MAX;
                read_block(file, start, (stop - start) as usize, &mut bytes)?;
                self.last_end = Some((id, start + bytes.len() as u64));
                self.blocks[i] = (id, start, 0, bytes);
                i
            }
        };
        self.blocks[i].2 = self.clock;
        self.last = i;
        let b = &self.blocks[i];
        let within = (offset - b.1) as usize;
        Ok(b.3.get(within..within + len))
    }
}

/// Up to `len` bytes of `file` from `start` (fewer at its end) into `buf`, whose
/// memory is used again.
fn read_block(file: &File, start: u64, len: usize, buf: &mut Vec<u8>) -> io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    buf.resize(len, 0);
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], start + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.clear();
                return Err(e);
            }
        }
    }
    buf.truncate(got);
    Ok(())
}

struct OpenedFile {
    file: File,
    link: u32,
    nanos: bool,
    /// A compressed file: the last frame read (its start, its bytes).
    frames: Option<Option<(u64, Vec<u8>)>>,
}

/// Decompresses the zstd frame at `start` (bounded: a frame holds at most one block
/// plus one largest record).
fn read_frame(file: &mut File, start: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(start))?;
    let dec = zstd::stream::read::Decoder::new(&mut *file)?.single_frame();
    let mut out = Vec::new();
    dec.take((ZSTD_FRAME + MAX_PACKET_LEN as usize + 16) as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// Files held open by one reader.
const MAX_READER_FILES: usize = 64;

impl PacketReader {
    pub fn new(dir: PcapDir) -> PacketReader {
        PacketReader { dir, files: Vec::new(), last_file: 0, blocks: BlockCache::default() }
    }

    /// Reads the packets at `positions` that are still stored, in capture order;
    /// packets whose file retention deleted are counted, not an error. `max_bytes`
    /// bounds how much is read.
    pub fn read_kept(&mut self, positions: &[PacketPos], max_bytes: usize) -> Result<KeptPackets, PcapStoreError> {
        let mut out = KeptPackets::default();
        let mut bytes = 0usize;
        for pos in positions {
            if bytes >= max_bytes {
                break;
            }
            match self.read(*pos) {
                Ok(p) => {
                    bytes += p.data.len();
                    out.packets.push(p);
                }
                Err(PcapStoreError::Missing { id, .. }) => {
                    out.gone += 1;
                    out.gone_files.insert(id);
                }
                Err(e) => return Err(e),
            }
        }
        capture_order(&mut out.packets);
        Ok(out)
    }

    pub fn read(&mut self, pos: PacketPos) -> Result<StoredPacket, PcapStoreError> {
        let head = self.head(pos)?;
        let i = self.open(pos.file)?;
        let opened = &self.files[i].1;
        let link_type = opened.link;
        let data = match opened.frames.as_ref() {
            Some(cache) => {
                let (_, within) = frame_place(pos.offset);
                let frame = &cache.as_ref().expect("read by head").1;
                let start = within + RECORD_HEADER_LEN as usize;
                frame
                    .get(start..start + head.caplen as usize)
                    .ok_or_else(|| bad_record(pos, "the frame ends inside the packet"))?
                    .to_vec()
            }
            None => {
                let mut data = Vec::with_capacity(head.caplen as usize);
                match self.blocks.copy(
                    pos.file,
                    &opened.file,
                    pos.offset + RECORD_HEADER_LEN,
                    head.caplen as usize,
                    &mut data,
                ) {
                    Ok(true) => data,
                    Ok(false) | Err(_) => return Err(bad_record(pos, "the file ends inside the packet")),
                }
            }
        };
        Ok(StoredPacket { pos, link_type, ts_ns: head.ts_ns, wire_len: head.wire_len, data })
    }

    /// The record header of the packet at `pos`: its time and lengths, without its bytes.
    pub fn head(&mut self, pos: PacketPos) -> Result<RecordHead, PcapStoreError> {
        let i = self.open(pos.file)?;
        let opened = &mut self.files[i].1;
        let mut h = [0u8; 16];
        match opened.frames.as_mut() {
            None => {
                if pos.offset < FILE_HEADER_LEN {
                    return Err(bad_record(pos, "offset inside the file header"));
                }
                // A header seldom crosses a block's end; when it does, it is put together.
                let read = if (pos.offset % BLOCK_BYTES) + 16 <= BLOCK_BYTES {
                    self.blocks.piece(pos.file, &opened.file, pos.offset, 16).map(|p| p.map(|p| h.copy_from_slice(p)))
                } else {
                    let mut head = Vec::with_capacity(16);
                    let read = self.blocks.copy(pos.file, &opened.file, pos.offset, 16, &mut head);
                    read.map(|whole| whole.then(|| h.copy_from_slice(&head)))
                };
                match read {
                    Ok(Some(())) => {}
                    Ok(None) => return Err(bad_record(pos, "the file ends there")),
                    Err(_) => return Err(bad_record(pos, "cannot read there")),
                }
            }
            Some(cache) => {
                let (start, within) = frame_place(pos.offset);
                if cache.as_ref().is_none_or(|(s, _)| *s != start) {
                    let frame = read_frame(&mut opened.file, start)
                        .map_err(|_| bad_record(pos, "no zstd frame starts there"))?;
                    *cache = Some((start, frame));
                }
                let frame = &cache.as_ref().expect("filled above").1[..];
                let head = frame.get(within..within + 16).ok_or_else(|| bad_record(pos, "the frame ends there"))?;
                h.copy_from_slice(head);
            }
        }
        let word = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (secs, frac, caplen, wire_len) = (word(0) as i64, word(4) as i64, word(8), word(12));
        if caplen > MAX_PACKET_LEN {
            return Err(bad_record(pos, "the record's length is impossible"));
        }
        let ts_ns = secs * 1_000_000_000 + if opened.nanos { frac } else { frac * 1000 };
        Ok(RecordHead { ts_ns, caplen, wire_len })
    }

    /// Writes the `packets` records that lie back to back from `first` on (`bytes`
    /// long, headers included) to `w` as they are, when they already are what `w`
    /// writes: an uncompressed file with nanosecond times, of `w`'s link type. False
    /// (and nothing written) when they are not, or cannot all be read: the caller
    /// then reads them one by one. Why: an export of whole captures is mostly such
    /// runs, and one copy per run, straight from the blocks read, instead of a read
    /// and a write per packet is what lets it go at the page cache's speed.
    pub fn copy_records<W: Write>(
        &mut self,
        first: PacketPos,
        bytes: u64,
        packets: u64,
        w: &mut ExportWriter<W>,
    ) -> Result<bool, PcapStoreError> {
        // Every block of the run is kept while it is written (see BLOCKS_KEPT).
        if bytes > BLOCK_BYTES * (BLOCKS_KEPT as u64 / 2) || first.offset < FILE_HEADER_LEN {
            return Ok(false);
        }
        let Ok(i) = self.open(first.file) else { return Ok(false) };
        let opened = &self.files[i].1;
        if opened.frames.is_some() || !opened.nanos || !w.takes_records_of(opened.link) {
            return Ok(false);
        }
        let link = opened.link;
        // Read first, so that a run that cannot be read whole writes nothing.
        let end = first.offset + bytes;
        let pieces = || {
            let mut at = first.offset;
            std::iter::from_fn(move || {
                (at < end).then(|| {
                    let len = (end - at).min(BLOCK_BYTES - at % BLOCK_BYTES);
                    at += len;
                    (at - len, len as usize)
                })
            })
        };
        for (at, len) in pieces() {
            if !matches!(self.blocks.piece(first.file, &opened.file, at, len), Ok(Some(_))) {
                return Ok(false);
            }
        }
        w.start_records(link)?;
        for (at, len) in pieces() {
            match self.blocks.piece(first.file, &opened.file, at, len) {
                Ok(Some(piece)) => w.put(piece)?,
                // Kept since the reads above: not reached.
                _ => return Err(bad_record(first, "a block read a moment ago is gone")),
            }
        }
        w.packets += packets;
        Ok(true)
    }

    /// Where file `id` is in `files`, opened (and its header checked) when first
    /// asked for.
    fn open(&mut self, id: u32) -> Result<usize, PcapStoreError> {
        if self.files.get(self.last_file).is_some_and(|(f, _)| *f == id) {
            return Ok(self.last_file);
        }
        if let Some(i) = self.files.iter().position(|(f, _)| *f == id) {
            self.last_file = i;
            return Ok(i);
        }
        if self.files.len() >= MAX_READER_FILES {
            self.files.clear();
            self.blocks = BlockCache::default();
        }
        let path = self.dir.file_path(id)?;
        let mut f = File::open(&path).map_err(io_err(&path))?;
        let compressed = path.to_string_lossy().ends_with(".zst");
        let mut h = [0u8; 24];
        if compressed {
            let first = read_frame(&mut f, 0).map_err(|_| PcapStoreError::BadHeader { path: path.clone() })?;
            let head = first.get(..24).ok_or_else(|| PcapStoreError::BadHeader { path: path.clone() })?;
            h.copy_from_slice(head);
        } else {
            f.read_exact(&mut h).map_err(|_| PcapStoreError::BadHeader { path: path.clone() })?;
        }
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        if magic != MAGIC_NS && magic != MAGIC_US {
            return Err(PcapStoreError::BadHeader { path });
        }
        let link = u32::from_le_bytes([h[20], h[21], h[22], h[23]]);
        let frames = compressed.then_some(None);
        self.files.push((id, OpenedFile { file: f, link, nanos: magic == MAGIC_NS, frames }));
        self.last_file = self.files.len() - 1;
        Ok(self.last_file)
    }
}

/// A stored packet's record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHead {
    pub ts_ns: i64,
    /// Bytes of the packet kept (the record holds 16 bytes of header before them).
    pub caplen: u32,
    pub wire_len: u32,
}

impl RecordHead {
    /// Bytes the whole record takes in its file.
    pub fn record_len(&self) -> u64 {
        RECORD_HEADER_LEN + self.caplen as u64
    }
}

/// A compressed file's packet offset as (the frame's start, the offset inside it).
fn frame_place(offset: u64) -> (u64, usize) {
    (offset >> ZSTD_WITHIN_BITS, (offset & ((1 << ZSTD_WITHIN_BITS) - 1)) as usize)
}

fn bad_record(pos: PacketPos, why: &'static str) -> PcapStoreError {
    PcapStoreError::BadRecord { path: PathBuf::from(format!("file {}", pos.file)), offset: pos.offset, why }
}

/// Writes packets to a new capture file for Wireshark: classic pcap with nanosecond
/// timestamps, or pcapng when the packets may mix link types (one interface block
/// per link type; classic pcap has one link type per file).
pub struct ExportWriter<W: Write> {
    out: W,
    link_type: Option<u32>,
    /// pcapng: the link type of each interface declared so far.
    ng_interfaces: Option<Vec<u32>>,
    pub packets: u64,
}

/// pcapng block types and the byte-order magic (pcapng spec, section 4).
const NG_SECTION_HEADER: u32 = 0x0A0D_0D0A;
const NG_INTERFACE: u32 = 1;
const NG_ENHANCED_PACKET: u32 = 6;
const NG_BYTE_ORDER: u32 = 0x1A2B_3C4D;
/// Interfaces one export may declare (a link type each).
const NG_MAX_INTERFACES: usize = 256;

impl<W: Write> ExportWriter<W> {
    pub fn new(out: W) -> ExportWriter<W> {
        ExportWriter { out, link_type: None, ng_interfaces: None, packets: 0 }
    }

    /// Classic pcap when the packets share one link type, pcapng when they mix
    /// (classic pcap holds one link type per file; Wireshark reads both).
    pub fn for_link_types(out: W, mixed: bool) -> Result<ExportWriter<W>, PcapStoreError> {
        if mixed {
            ExportWriter::pcapng(out)
        } else {
            Ok(ExportWriter::new(out))
        }
    }

    /// A pcapng writer, which takes packets of any link type.
    pub fn pcapng(out: W) -> Result<ExportWriter<W>, PcapStoreError> {
        let mut w = ExportWriter { out, link_type: None, ng_interfaces: Some(Vec::new()), packets: 0 };
        let mut shb = Vec::with_capacity(28);
        for v in [NG_SECTION_HEADER, 28, NG_BYTE_ORDER] {
            shb.extend_from_slice(&v.to_le_bytes());
        }
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
        shb.extend_from_slice(&28u32.to_le_bytes());
        w.put(&shb)?;
        Ok(w)
    }

    fn put(&mut self, b: &[u8]) -> Result<(), PcapStoreError> {
        self.out.write_all(b).map_err(|source| PcapStoreError::Io { path: PathBuf::from("export"), source })
    }

    pub fn write(&mut self, p: &StoredPacket) -> Result<(), PcapStoreError> {
        if self.ng_interfaces.is_some() {
            return self.write_ng(p);
        }
        match self.link_type {
            None => {
                self.put(&file_header(MAGIC_NS, p.link_type))?;
                self.link_type = Some(p.link_type);
            }
            Some(l) if l != p.link_type => return Err(PcapStoreError::MixedLinkTypes(l, p.link_type)),
            Some(_) => {}
        }
        self.put(&record_header(p.ts_ns, p.data.len() as u32, p.wire_len))?;
        self.put(&p.data)?;
        self.packets += 1;
        Ok(())
    }

    /// Whether records of classic pcap with nanosecond times and `link_type` can be
    /// written as they are ([`PacketReader::copy_records`]).
    pub fn takes_records_of(&self, link_type: u32) -> bool {
        self.ng_interfaces.is_none() && self.link_type.is_none_or(|l| l == link_type)
    }

    /// Before records of `link_type` are written as they are: the file's header.
    fn start_records(&mut self, link_type: u32) -> Result<(), PcapStoreError> {
        if !self.takes_records_of(link_type) {
            return Err(PcapStoreError::MixedLinkTypes(self.link_type.unwrap_or(link_type), link_type));
        }
        if self.link_type.is_none() {
            self.put(&file_header(MAGIC_NS, link_type))?;
            self.link_type = Some(link_type);
        }
        Ok(())
    }

    fn write_ng(&mut self, p: &StoredPacket) -> Result<(), PcapStoreError> {
        let interfaces = self.ng_interfaces.as_mut().expect("pcapng writer");
        let iface = match interfaces.iter().position(|&l| l == p.link_type) {
            Some(i) => i,
            None if interfaces.len() < NG_MAX_INTERFACES => {
                interfaces.push(p.link_type);
                let iface = interfaces.len() - 1;
                let mut idb = Vec::with_capacity(32);
                idb.extend_from_slice(&NG_INTERFACE.to_le_bytes());
                idb.extend_from_slice(&32u32.to_le_bytes());
                idb.extend_from_slice(&(p.link_type as u16).to_le_bytes());
                idb.extend_from_slice(&0u16.to_le_bytes());
                idb.extend_from_slice(&MAX_PACKET_LEN.to_le_bytes());
                // if_tsresol = 9: timestamps in nanoseconds; then the end of options.
                idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
                idb.extend_from_slice(&32u32.to_le_bytes());
                self.put(&idb)?;
                iface
            }
            None => return Err(PcapStoreError::MixedLinkTypes(interfaces[0], p.link_type)),
        };
        let caplen = p.data.len() as u32;
        let padded = (p.data.len() + 3) & !3;
        let total = 32 + padded as u32;
        let ts = p.ts_ns.max(0) as u64;
        let mut h = Vec::with_capacity(28);
        for v in [NG_ENHANCED_PACKET, total, iface as u32, (ts >> 32) as u32, ts as u32, caplen, p.wire_len.max(caplen)]
        {
            h.extend_from_slice(&v.to_le_bytes());
        }
        self.put(&h)?;
        self.put(&p.data)?;
        self.put(&[0u8; 3][..padded - p.data.len()])?;
        self.put(&total.to_le_bytes())?;
        self.packets += 1;
        Ok(())
    }

    /// Ends the file; a classic pcap of no packet still gets a valid (Ethernet) header.
    pub fn finish(mut self) -> Result<W, PcapStoreError> {
        if self.link_type.is_none() && self.ng_interfaces.is_none() {
            self.put(&file_header(MAGIC_NS, 1))?;
        }
        self.out.flush().map_err(|source| PcapStoreError::Io { path: PathBuf::from("export"), source })?;
        Ok(self.out)
    }
}

/// Puts packets read back in capture order: by time, ties in the order they were
/// stored; a packet listed twice is kept once.
pub fn capture_order(packets: &mut Vec<StoredPacket>) {
    packets.sort_by_key(|p| (p.ts_ns, p.pos));
    packets.dedup_by_key(|p| p.pos);
}

/// Whether packets mix link types (and so need pcapng, see [`ExportWriter::for_link_types`]).
pub fn mixed_link_types(packets: &[StoredPacket]) -> bool {
    packets.windows(2).any(|w| w[0].link_type != w[1].link_type)
}

/// Turns a session's stored positions (Arkime's scheme: `-file`, then offsets) into places.
pub fn decode_positions(encoded: &[i64]) -> Vec<PacketPos> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut file = None;
    for &v in encoded {
        if v < 0 {
            file = u32::try_from(-v).ok();
        } else if let Some(file) = file {
            out.push(PacketPos { file, offset: v as u64 });
        }
    }
    out
}

/// Free and total bytes of the file system holding `path` (free as an unprivileged
/// user sees it).
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path and `s` a writable statvfs.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let frsize = s.f_frsize as u64;
    Some((s.f_bavail as u64 * frsize, s.f_blocks as u64 * frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcapng_export_holds_mixed_link_types_and_reads_back() {
        let packets =
            [(1u32, 1_500_000_000_123_456_789i64, vec![1u8; 60]), (101, 1_500_000_001_000_000_001, vec![2; 41])];
        let mut w = ExportWriter::pcapng(Vec::new()).unwrap();
        for (link, ts, data) in &packets {
            let p = StoredPacket {
                pos: PacketPos { file: 1, offset: 24 },
                link_type: *link,
                ts_ns: *ts,
                wire_len: data.len() as u32 + 10,
                data: data.clone(),
            };
            w.write(&p).unwrap();
        }
        assert_eq!(w.packets, 2);
        let bytes = w.finish().unwrap();
        let reader = tyto_capture::FileReader::from_reader(Path::new("export.pcapng"), io::Cursor::new(bytes)).unwrap();
        let mut seen = Vec::new();
        let (_, err) = reader.for_each_packet(|p| seen.push((p.link.0, p.ts_ns, p.data.to_vec(), p.wire_len)));
        assert!(err.is_none(), "{err:?}");
        assert_eq!(seen, packets.iter().map(|(l, t, d)| (*l, *t, d.clone(), d.len() as u32 + 10)).collect::<Vec<_>>());
    }

    /// Reads that go on one after another grow to a block; one that lands away
    /// reads a page; what was read is found again wherever it lies in a read.
    #[test]
    fn reads_grow_when_they_go_on_and_stay_small_when_they_land_alone() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let bytes: Vec<u8> = (0..(3 * BLOCK_BYTES)).map(|i| (i % 251) as u8).collect();
        std::fs::write(tmp.path(), &bytes).unwrap();
        let file = File::open(tmp.path()).unwrap();
        let mut cache = BlockCache::default();
        let sizes = |c: &BlockCache| c.blocks.iter().map(|b| b.3.len() as u64).collect::<Vec<_>>();
        // Sparse: a page each.
        for at in [5_000u64, 70_000, 200_000, 400_000] {
            let got = cache.piece(1, &file, at, 100).unwrap().unwrap().to_vec();
            assert_eq!(got, bytes[at as usize..at as usize + 100]);
        }
        assert_eq!(sizes(&cache), [PAGE_BYTES; 4]);
        // On from the last read: 8, 16, 32 KiB… up to the block's end.
        let mut at = 400_000 - 400_000 % PAGE_BYTES + PAGE_BYTES;
        let mut want = 2 * PAGE_BYTES;
        while at < 2 * BLOCK_BYTES {
            cache.piece(1, &file, at, 16).unwrap().unwrap();
            let read = *sizes(&cache).last().unwrap();
            assert_eq!(read, want.min(2 * BLOCK_BYTES - at), "at {at}");
            at += read;
            want = (2 * want).min(BLOCK_BYTES);
        }
        // Found again in what was read, not read again; another file is not it.
        let reads = cache.blocks.len();
        assert_eq!(cache.piece(1, &file, 70_010, 50).unwrap().unwrap(), &bytes[70_010..70_060]);
        assert_eq!(cache.blocks.len(), reads);
        cache.piece(2, &file, 70_010, 50).unwrap().unwrap();
        assert_eq!(cache.blocks.len(), reads + 1);
        // A piece larger than a page is read whole; past the file's end, none.
        let big = cache.piece(1, &file, 2 * BLOCK_BYTES + 10, 100_000).unwrap().unwrap().to_vec();
        assert_eq!(big, bytes[(2 * BLOCK_BYTES + 10) as usize..][..100_000]);
        assert!(cache.piece(1, &file, 3 * BLOCK_BYTES - 10, 20).unwrap().is_none());
    }

    #[test]
    fn write_rotate_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PcapDir::open(tmp.path(), "test").unwrap();
        let mut w = dir.writer(RotationPolicy { max_file_bytes: 200, ..RotationPolicy::default() });
        let mut places = Vec::new();
        for i in 0..10u8 {
            places.push(w.write(1, 1_000_000_000 * i as i64 + 7, 100, &[i; 60]).unwrap());
        }
        places.push(w.write(101, 5, 20, &[0x45; 20]).unwrap());
        let files = w.finish().unwrap();
        assert!(files.len() >= 4, "rotation by size: {files:?}");
        assert_eq!(files.iter().map(|f| f.packets).sum::<u64>(), 11);
        let mut r = PacketReader::new(PcapDir::open(tmp.path(), "test").unwrap());
        for (i, pos) in places.iter().take(10).enumerate() {
            let p = r.read(*pos).unwrap();
            assert_eq!(p.data, vec![i as u8; 60]);
            assert_eq!(p.ts_ns, 1_000_000_000 * i as i64 + 7);
            assert_eq!(p.wire_len, 100);
            assert_eq!(p.link_type, 1);
        }
        assert_eq!(r.read(places[10]).unwrap().link_type, 101);
        // A new writer on the same folder continues the ids.
        let dir2 = PcapDir::open(tmp.path(), "test").unwrap();
        let mut w2 = dir2.writer(RotationPolicy::default());
        let p = w2.write(1, 0, 60, &[0; 60]).unwrap();
        assert!(p.file > files.last().unwrap().id);
    }

    /// Writes the packets at `places` one by one, as an export without runs would.
    fn one_by_one(r: &mut PacketReader, places: &[PacketPos]) -> Vec<u8> {
        let mut w = ExportWriter::new(Vec::new());
        for pos in places {
            w.write(&r.read(*pos).unwrap()).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn runs_of_records_are_copied_whole_only_where_they_are_what_the_export_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PcapDir::open(tmp.path(), "run").unwrap();
        let mut w = dir.writer(RotationPolicy::default());
        // Sizes that put records across the reader's block boundaries.
        let places: Vec<PacketPos> = (0..3000u32)
            .map(|i| {
                let data: Vec<u8> = (0..(60 + i * 37 % 1500)).map(|j| (i ^ j) as u8).collect();
                w.write(1, i as i64 * 1_000_003, data.len() as u32 + 4, &data).unwrap()
            })
            .collect();
        w.finish().unwrap();
        let mut r = PacketReader::new(PcapDir::open(tmp.path(), "run").unwrap());
        let len = |pos: &PacketPos, r: &mut PacketReader| r.head(*pos).unwrap().record_len();
        // Two runs (the second ends at the file's last packet), copied whole.
        let (a, b) = (&places[10..1500], &places[1700..]);
        let mut out = ExportWriter::new(Vec::new());
        for run in [a, b] {
            let bytes: u64 = run.iter().map(|p| len(p, &mut r)).sum();
            assert_eq!(run[0].offset + bytes, run.last().unwrap().offset + len(run.last().unwrap(), &mut r));
            assert!(r.copy_records(run[0], bytes, run.len() as u64, &mut out).unwrap());
        }
        assert_eq!(out.packets, (a.len() + b.len()) as u64);
        let copied = out.finish().unwrap();
        assert_eq!(copied, one_by_one(&mut r, &[a, b].concat()), "the same file as packet by packet");

        // Not copied, and nothing written: past the file's end, another link type, pcapng.
        let past_end: u64 = b.iter().map(|p| len(p, &mut r)).sum::<u64>() + 1;
        let mut out = ExportWriter::new(Vec::new());
        assert!(!r.copy_records(b[0], past_end, b.len() as u64, &mut out).unwrap());
        out.write(&StoredPacket { pos: places[0], link_type: 101, ts_ns: 0, wire_len: 1, data: vec![0] }).unwrap();
        let one = len(&a[0], &mut r);
        assert!(!r.copy_records(a[0], one, 1, &mut out).unwrap());
        assert_eq!(out.packets, 1);
        let mut ng = ExportWriter::pcapng(Vec::new()).unwrap();
        assert!(!r.copy_records(a[0], one, 1, &mut ng).unwrap());
        assert_eq!(ng.packets, 0);

        // A compressed file's records are read one by one.
        let zdir = PcapDir::open(tmp.path(), "z").unwrap();
        let mut zw = zdir.writer(RotationPolicy { zstd_level: Some(1), ..RotationPolicy::default() });
        let zp = zw.write(1, 5, 60, &[7; 60]).unwrap();
        zw.finish().unwrap();
        let mut zr = PacketReader::new(PcapDir::open(tmp.path(), "z").unwrap());
        let mut out = ExportWriter::new(Vec::new());
        assert!(!zr.copy_records(zp, 76, 1, &mut out).unwrap());
        assert_eq!(out.packets, 0);
    }

    #[test]
    fn zstd_files_read_back_by_position_and_decompress_to_pcap() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PcapDir::open(tmp.path(), "z").unwrap();
        let policy = RotationPolicy { zstd_level: Some(3), ..RotationPolicy::default() };
        let mut w = dir.writer(policy);
        let mut places = Vec::new();
        // Enough to span several frames, with a flush (a frame ended early) midway.
        for i in 0..3000u32 {
            let data: Vec<u8> = (0..(100 + i % 1400)).map(|j| (i + j) as u8).collect();
            places.push((w.write(1, i as i64 * 1000, data.len() as u32, &data).unwrap(), data));
            if i == 1000 {
                w.flush().unwrap();
            }
        }
        let files = w.finish().unwrap();
        assert_eq!(files.len(), 1);
        let path = &files[0].path;
        assert!(path.to_string_lossy().ends_with("-00000001.pcap.zst"), "{path:?}");
        let on_disk = fs::metadata(path).unwrap().len();
        assert!(on_disk * 4 < files[0].bytes, "compressed: {on_disk} of {}", files[0].bytes);
        let mut r = PacketReader::new(PcapDir::open(tmp.path(), "z").unwrap());
        for (i, (pos, data)) in places.iter().enumerate().rev().step_by(7) {
            let p = r.read(*pos).unwrap();
            assert_eq!(&p.data, data, "packet {i}");
            assert_eq!(p.ts_ns, i as i64 * 1000);
        }
        // The file is an ordinary .zst of a pcap that the capture reader opens.
        let mut n = 0;
        let (_, err) = tyto_capture::FileReader::open(path).unwrap().for_each_packet(|_| n += 1);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(n, 3000);
        assert!(r.read(PacketPos { file: 1, offset: 5 << ZSTD_WITHIN_BITS }).is_err());
    }

    #[test]
    fn retention_deletes_oldest_first_and_never_an_open_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PcapDir::open(tmp.path(), "r").unwrap();
        let mut closed = dir.writer(RotationPolicy { max_file_bytes: 100, ..RotationPolicy::default() });
        for i in 0..5 {
            closed.write(1, i, 60, &[0; 60]).unwrap();
        }
        let mut open = dir.writer(RotationPolicy::default());
        open.write(1, 9, 60, &[0; 60]).unwrap();
        open.flush().unwrap();
        assert_eq!(closed.finish().unwrap().len(), 5);
        // "Free space" grows 100 bytes per file deleted; ask for 350.
        let policy = RetentionPolicy { min_free_bytes: 350, max_age: None };
        let out = enforce_retention(&dir, &policy, SystemTime::now(), &mut || {
            Some((6 - dir.files().unwrap().len() as u64) * 100)
        })
        .unwrap();
        assert_eq!(out.deleted.iter().map(|f| f.id).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert!(!out.still_short);
        let ids = |dir: &PcapDir| dir.files().unwrap().iter().map(|f| f.id).collect::<Vec<u32>>();
        assert_eq!(ids(&dir), vec![5, 6], "oldest first");
        // Files past their age go, but never the one being written.
        let policy = RetentionPolicy { min_free_bytes: 0, max_age: Some(Duration::from_secs(1)) };
        let later = SystemTime::now() + Duration::from_secs(5);
        let out = enforce_retention(&dir, &policy, later, &mut || None).unwrap();
        assert_eq!(out.deleted.iter().map(|f| f.id).collect::<Vec<_>>(), vec![5]);
        let policy = RetentionPolicy { min_free_bytes: u64::MAX, max_age: None };
        let out = enforce_retention(&dir, &policy, SystemTime::now(), &mut || Some(0)).unwrap();
        assert!(out.deleted.is_empty() && out.still_short, "only the open file is left");
        assert_eq!(ids(&dir), vec![6]);
        drop(open);
    }

    #[test]
    fn bad_positions_are_errors_not_panics() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PcapDir::open(tmp.path(), "n").unwrap();
        let mut w = dir.writer(RotationPolicy::default());
        let pos = w.write(1, 0, 60, &[1; 60]).unwrap();
        w.finish().unwrap();
        let mut r = PacketReader::new(dir);
        assert!(r.read(PacketPos { file: pos.file, offset: 3 }).is_err());
        assert!(r.read(PacketPos { file: pos.file, offset: 10_000 }).is_err());
        assert!(matches!(r.read(PacketPos { file: 999, offset: 24 }), Err(PcapStoreError::Missing { .. })));
    }

    #[test]
    fn positions_decode_arkime_style() {
        assert_eq!(
            decode_positions(&[-3, 24, 100, -4, 24]),
            vec![
                PacketPos { file: 3, offset: 24 },
                PacketPos { file: 3, offset: 100 },
                PacketPos { file: 4, offset: 24 }
            ]
        );
        assert!(decode_positions(&[24, 25]).is_empty());
    }

    #[test]
    fn file_ids_parse_from_names() {
        assert_eq!(parse_file_id("sensor-a-00000042.pcap"), Some(42));
        assert_eq!(parse_file_id("notes.txt"), None);
        assert_eq!(parse_file_id("x-42.pcap"), None);
    }
}
