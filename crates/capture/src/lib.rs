//! Packet sources: pcap and pcapng files, plain or compressed with gzip or zstd, read
//! as a stream with `pcap-parser` (zero-copy into a bounded buffer); and, on Linux,
//! live interfaces through an AF_PACKET ring ([`afpacket`]) with capture filters in
//! tcpdump's syntax ([`filter`]).
//!
//! A damaged file is the normal case: every packet before the damage is delivered,
//! then the reader stops with an error that names the file and the byte offset
//! (in the decompressed stream for compressed files), and the caller moves on.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};
use tyto_packet::LinkType;

#[cfg(target_os = "linux")]
pub mod afpacket;
pub mod filter;

/// The largest record accepted. Wireshark's limit for ordinary link types is 256 KiB;
/// some captures (USB, D-Bus) go beyond, so allow 1 MiB. Anything larger is corruption,
/// and reading on would mean an attacker picks our allocation size.
pub const MAX_RECORD_LEN: usize = 1 << 20;
/// The largest original length believed: snap lengths stop at 256 KiB, and TSO/GRO
/// captures reach 64 KiB. A larger claim is a corrupt field; the captured length stands.
const MAX_WIRE_LEN: u32 = 256 * 1024;
/// The read buffer: room for the largest record plus its block framing.
const READ_BUFFER_LEN: usize = 2 * MAX_RECORD_LEN + 4096;
/// pcapng files name their interfaces; more than this many is not a real capture.
const MAX_INTERFACES: usize = 4096;

/// One captured packet, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// The packet's length on the wire (at least `data.len()`).
    pub wire_len: u32,
    pub link: LinkType,
    pub data: &'a [u8],
}

/// Why reading a file stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: cannot open: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{path}: not a pcap or pcapng file (it starts with bytes {magic})")]
    NotPcap { path: PathBuf, magic: String },
    #[error(
        "{path}: the file ends inside the record that starts at byte {offset}{where_}; the packets before it were kept"
    )]
    Truncated { path: PathBuf, offset: u64, where_: &'static str },
    #[error("{path}: the record at byte {offset}{where_} claims {len} bytes, more than the {MAX_RECORD_LEN}-byte limit; the packets before it were kept")]
    RecordTooLarge { path: PathBuf, offset: u64, len: u64, where_: &'static str },
    #[error("{path}: corrupt {what} at byte {offset}{where_}; the packets before it were kept")]
    Corrupt { path: PathBuf, offset: u64, what: &'static str, where_: &'static str },
    #[error("{path}: read error at byte {offset}{where_}: {source}")]
    Io { path: PathBuf, offset: u64, where_: &'static str, source: io::Error },
}

/// How the file's bytes were stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// What reading one file produced.
#[derive(Debug, Default)]
pub struct ReadSummary {
    pub packets: u64,
    /// Bytes of the (decompressed) file consumed.
    pub bytes: u64,
}

/// A pcap or pcapng file opened for reading.
pub struct FileReader {
    path: PathBuf,
    compression: Compression,
    inner: Box<dyn Read + Send>,
}

impl FileReader {
    /// Opens a file and recognises its compression (by content, not by name).
    pub fn open(path: &Path) -> Result<FileReader, ReadError> {
        let file = File::open(path).map_err(|source| ReadError::Open { path: path.to_owned(), source })?;
        Self::from_reader(path, file)
    }

    /// Reads from any byte stream; `path` names it in errors.
    pub fn from_reader(path: &Path, reader: impl Read + Send + 'static) -> Result<FileReader, ReadError> {
        let mut buffered = BufReader::with_capacity(256 * 1024, reader);
        let magic = peek4(&mut buffered).map_err(|source| ReadError::Open { path: path.to_owned(), source })?;
        let (compression, inner): (Compression, Box<dyn Read + Send>) = match magic {
            [0x1f, 0x8b, _, _] => (
                Compression::Gzip,
                Box::new(BufReader::with_capacity(256 * 1024, flate2::read::MultiGzDecoder::new(buffered))),
            ),
            [0x28, 0xb5, 0x2f, 0xfd] => {
                let dec = zstd::stream::read::Decoder::with_buffer(buffered)
                    .map_err(|source| ReadError::Open { path: path.to_owned(), source })?;
                (Compression::Zstd, Box::new(BufReader::with_capacity(256 * 1024, dec)))
            }
            _ => (Compression::None, Box::new(buffered)),
        };
        Ok(FileReader { path: path.to_owned(), compression, inner })
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Delivers every packet to `each`, in file order. On damage, the packets before
    /// it have been delivered and the error says where reading stopped.
    pub fn for_each_packet(self, mut each: impl FnMut(Packet<'_>)) -> (ReadSummary, Option<ReadError>) {
        let FileReader { path, compression, inner } = self;
        let where_ = if compression == Compression::None { "" } else { " of the decompressed stream" };
        let mut summary = ReadSummary::default();
        let (mut reader, is_legacy) = match open_blocks(&path, where_, inner) {
            Ok(r) => r,
            Err(e) => return (summary, Some(e)),
        };
        let err = |what: &'static str, offset: u64| ReadError::Corrupt { path: path.clone(), offset, what, where_ };

        let mut legacy_link = LinkType::ETHERNET;
        let mut legacy_nanos = false;
        // pcapng interfaces of the current section: link type, ticks per second, offset (s).
        let mut interfaces: Vec<(LinkType, u64, i64)> = Vec::new();
        loop {
            let offset = reader.consumed() as u64;
            match reader.next() {
                Ok((len, block)) => {
                    match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            legacy_link = LinkType(h.network.0 as u32);
                            legacy_nanos = h.is_nanosecond_precision();
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let frac = if legacy_nanos { b.ts_usec as i64 } else { b.ts_usec as i64 * 1000 };
                            let data = &b.data[..(b.caplen as usize).min(b.data.len())];
                            summary.packets += 1;
                            each(Packet {
                                ts_ns: b.ts_sec as i64 * 1_000_000_000 + frac,
                                wire_len: wire_len(b.origlen, data.len()),
                                link: legacy_link,
                                data,
                            });
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            if interfaces.len() >= MAX_INTERFACES {
                                return (summary, Some(err("pcapng file: too many interfaces", offset)));
                            }
                            let ticks = ticks_per_second(idb.if_tsresol).unwrap_or(1_000_000);
                            interfaces.push((LinkType(idb.linktype.0 as u32), ticks, idb.ts_offset()));
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let Some(&(link, ticks, ts_off)) = interfaces.get(epb.if_id as usize) else {
                                return (summary, Some(err("pcapng packet block (unknown interface)", offset)));
                            };
                            let raw = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                            let secs = (raw / ticks) as i64 + ts_off;
                            let frac_ns = ((raw % ticks) as u128 * 1_000_000_000 / ticks as u128) as i64;
                            let data = &epb.data[..(epb.caplen as usize).min(epb.data.len())];
                            summary.packets += 1;
                            each(Packet {
                                ts_ns: secs.saturating_mul(1_000_000_000).saturating_add(frac_ns),
                                wire_len: wire_len(epb.origlen, data.len()),
                                link,
                                data,
                            });
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            let Some(&(link, _, _)) = interfaces.first() else {
                                return (summary, Some(err("pcapng simple packet block (no interface)", offset)));
                            };
                            summary.packets += 1;
                            each(Packet {
                                ts_ns: 0,
                                wire_len: wire_len(spb.origlen, spb.data.len()),
                                link,
                                data: spb.data,
                            });
                        }
                        PcapBlockOwned::NG(_) => {}
                    }
                    reader.consume(len);
                    summary.bytes = reader.consumed() as u64;
                }
                Err(PcapError::Eof) => return (summary, None),
                Err(PcapError::Incomplete(_)) => {
                    if let Err(e) = reader.refill() {
                        let source = match e {
                            PcapError::ReadError => io::Error::other("the stream could not be read (bad compression?)"),
                            _ => io::Error::other("refill failed"),
                        };
                        return (summary, Some(ReadError::Io { path, offset, where_, source }));
                    }
                }
                Err(PcapError::UnexpectedEof) => return (summary, Some(ReadError::Truncated { path, offset, where_ })),
                Err(PcapError::BufferTooSmall) => {
                    let len = claimed_len(reader.data(), is_legacy);
                    return (summary, Some(ReadError::RecordTooLarge { path, offset, len, where_ }));
                }
                Err(PcapError::ReadError) => {
                    let source = io::Error::other("the stream could not be read (bad compression?)");
                    return (summary, Some(ReadError::Io { path, offset, where_, source }));
                }
                Err(_) => {
                    let what = if is_legacy { "pcap record" } else { "pcapng block" };
                    return (summary, Some(err(what, offset)));
                }
            }
        }
    }
}

/// The file's blocks, from its magic and header: pcap (any byte order or time
/// resolution) or pcapng; whether it is the former.
fn open_blocks(
    path: &Path,
    where_: &'static str,
    inner: Box<dyn Read + Send>,
) -> Result<(Box<dyn PcapReaderIterator>, bool), ReadError> {
    let path = || path.to_path_buf();
    let mut stream = BufReader::with_capacity(64 * 1024, inner);
    let magic = peek4(&mut stream).map_err(|source| ReadError::Io { path: path(), offset: 0, where_, source })?;
    let is_legacy = matches!(
        u32::from_le_bytes(magic),
        0xa1b2c3d4 | 0xd4c3b2a1 | 0xa1b23c4d | 0x4d3cb2a1 | 0xa1b2cd34 | 0x34cdb2a1
    );
    let is_ng = magic == [0x0a, 0x0d, 0x0d, 0x0a];
    if !is_legacy && !is_ng {
        let magic = magic.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
        return Err(ReadError::NotPcap { path: path(), magic });
    }
    let opened: Result<Box<dyn PcapReaderIterator>, PcapError<&[u8]>> = if is_legacy {
        LegacyPcapReader::new(READ_BUFFER_LEN, ReadFull(stream)).map(|r| Box::new(r) as Box<dyn PcapReaderIterator>)
    } else {
        PcapNGReader::new(READ_BUFFER_LEN, ReadFull(stream)).map(|r| Box::new(r) as Box<dyn PcapReaderIterator>)
    };
    match opened {
        Ok(r) => Ok((r, is_legacy)),
        Err(PcapError::Incomplete(_)) | Err(PcapError::UnexpectedEof) => {
            Err(ReadError::Truncated { path: path(), offset: 0, where_ })
        }
        Err(_) => {
            let what = if is_legacy { "pcap file header" } else { "pcapng section header" };
            Err(ReadError::Corrupt { path: path(), offset: 0, what, where_ })
        }
    }
}

fn wire_len(original: u32, captured: usize) -> u32 {
    let captured = captured as u32;
    if original > MAX_WIRE_LEN {
        captured
    } else {
        original.max(captured)
    }
}

/// The length a record header claims, for the error message.
fn claimed_len(data: &[u8], legacy: bool) -> u64 {
    let at = if legacy { 8 } else { 4 };
    match data.get(at..at + 4) {
        Some(b) => {
            let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            le.min(be) as u64
        }
        None => 0,
    }
}

/// Fills the whole buffer unless the stream ends: `pcap-parser` parses the file
/// header from its first read, and decompressors return short reads.
struct ReadFull<R>(R);

impl<R: Read> Read for ReadFull<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.0.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if n == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(n)
    }
}

fn peek4(r: &mut impl BufRead) -> io::Result<[u8; 4]> {
    let buf = r.fill_buf()?;
    let mut m = [0u8; 4];
    let n = buf.len().min(4);
    m[..n].copy_from_slice(&buf[..n]);
    Ok(m)
}

/// Expands the command line's files and folders into capture files, sorted by name
/// within each folder. Folders are searched recursively for names that look like
/// captures (`.pcap`, `.pcapng`, `.cap`, optionally `.gz`/`.zst`).
pub fn expand_inputs(inputs: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found = Vec::new();
            walk_dir(input, &mut found, 0)?;
            found.sort();
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

/// Folders nested deeper than this are not searched (a symlink loop ends here).
const MAX_DIR_DEPTH: usize = 16;

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> io::Result<()> {
    if depth > MAX_DIR_DEPTH {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk_dir(&path, out, depth + 1)?;
        } else if looks_like_capture(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn looks_like_capture(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let name = name.strip_suffix(".gz").or_else(|| name.strip_suffix(".zst")).unwrap_or(&name);
    name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".cap")
}

/// Timestamp units per second of a pcapng interface: `if_tsresol` is 10^-n, or 2^-n
/// when its high bit is set. Read here because pcap-parser 0.17 checks the flag bit
/// against the exponent's limit and so refuses every binary resolution (which then
/// read as microseconds: 2026 for a 2023 capture).
fn ticks_per_second(if_tsresol: u8) -> Option<u64> {
    let n = u32::from(if_tsresol & 0x7f);
    if if_tsresol & 0x80 == 0 { 10u64.checked_pow(n) } else { 1u64.checked_shl(n).filter(|_| n < 64) }
        .filter(|t| *t > 0)
}

#[cfg(test)]
mod tests;
