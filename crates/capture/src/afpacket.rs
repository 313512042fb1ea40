//! Live capture from a Linux interface: an AF_PACKET socket with a TPACKET_V3
//! memory-mapped receive ring, optionally one member of a fanout group so several
//! threads share an interface by flow hash.
//!
//! Written against `libc` rather than a ring crate: the ring is ~300 lines, and we need
//! control over every part that matters here (our own BPF program carrying the snap
//! length, fanout flags, the kernel's drop counters, and VLAN tags put back into the
//! frame, which the kernel strips before the ring sees it).
//!
//! With TPACKET_V3 the kernel fills whole blocks of packets and hands a block over
//! when it is full or after `block_timeout_ms`; user space walks the block and gives
//! it back. Packets are borrowed straight from the mapped block: no copy unless a VLAN
//! tag has to be reinserted.

use std::ffi::CString;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tyto_packet::LinkType;

use crate::filter::BpfProgram;
use crate::Packet;

const SOL_PACKET: libc::c_int = 263;
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_MR_PROMISC: libc::c_int = 1;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_VERSION: libc::c_int = 10;
const PACKET_FANOUT: libc::c_int = 18;
const TPACKET_V3: libc::c_int = 2;
const PACKET_FANOUT_HASH: u32 = 0;
/// Reassemble IP fragments before hashing, so a datagram's fragments reach the same
/// member as the rest of its flow.
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
const ETH_P_ALL: u16 = 0x0003;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
const PACKET_OUTGOING: u8 = 4;
/// Where the packet's `sockaddr_ll` starts after its header (TPACKET_ALIGN(48)), and
/// its `sll_pkttype` byte in it.
const SLL_PKTTYPE_AT: usize = 48 + 10;

/// How a ring is set up (Arkime's names in brackets).
#[derive(Clone, Debug)]
pub struct RingConfig {
    /// Bytes per ring block; a power of two, at least a page (`tpacketv3BlockSize`).
    pub block_size: u32,
    /// Blocks in the ring; the ring holds `block_size × block_count` bytes of packets.
    pub block_count: u32,
    /// Milliseconds before the kernel hands over a block that is not full.
    pub block_timeout_ms: u32,
    /// Bytes kept of each packet (`snapLen`).
    pub snaplen: u32,
    /// Receive every frame on the wire, not only those addressed to this host.
    pub promiscuous: bool,
    /// Join this fanout group (shared by the rings of one interface).
    pub fanout_group: Option<u16>,
    /// Compiled capture filter; without one every packet is kept (cut to `snaplen`).
    pub filter: Option<BpfProgram>,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            block_size: 1 << 20,
            block_count: 64,
            block_timeout_ms: 100,
            snaplen: 65535,
            promiscuous: true,
            fanout_group: None,
            filter: None,
        }
    }
}

/// Counters the kernel keeps for a ring, summed since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Packets that passed the filter, kept or dropped.
    pub packets: u64,
    /// Packets the kernel dropped because the ring was full.
    pub drops: u64,
}

/// Why a ring could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("capture on {interface}: {what}: {source}{hint}")]
pub struct RingError {
    pub interface: String,
    pub what: &'static str,
    pub source: io::Error,
    hint: &'static str,
}

/// One AF_PACKET socket and its mapped ring.
pub struct Ring {
    interface: String,
    fd: libc::c_int,
    map: *mut u8,
    map_len: usize,
    block_size: usize,
    block_count: usize,
    next_block: usize,
    link: LinkType,
    /// Loopback shows each packet twice, leaving and arriving; the leaving copy is
    /// skipped (as libpcap does).
    loopback: bool,
    stats: RingStats,
    /// A frame with its VLAN tag put back.
    scratch: Vec<u8>,
}

// SAFETY: the ring's mapping and socket belong to this value alone; moving it to
// another thread moves the only handle.
unsafe impl Send for Ring {}

impl Ring {
    /// Opens a ring on `interface` (`eth1`, `lo`, …).
    ///
    /// One function of ~130 lines on purpose: the socket, the filter, the ring
    /// request, the mapping, the bind and the fanout must come in this order on one
    /// descriptor (the kernel refuses them otherwise), and each step is a checked libc
    /// call with its own error; split, the order would be spread over helpers.
    pub fn open(interface: &str, cfg: &RingConfig) -> Result<Ring, RingError> {
        let fail = |what: &'static str, source: io::Error| {
            let hint = match source.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => " (capturing needs root or the CAP_NET_RAW capability)",
                Some(libc::ENOMEM) => " (the ring is larger than the kernel allows: lower the block size or count)",
                _ => "",
            };
            RingError { interface: interface.to_string(), what, source, hint }
        };
        if cfg.block_size < 4096 || !cfg.block_size.is_power_of_two() {
            return Err(fail(
                "block size",
                io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a power of two ≥ 4096", cfg.block_size)),
            ));
        }
        if cfg.block_count == 0 || (cfg.block_size as u64) * (cfg.block_count as u64) > 1 << 34 {
            return Err(fail(
                "block count",
                io::Error::new(io::ErrorKind::InvalidInput, "between 1 and a ring of 16 GiB"),
            ));
        }
        let name = CString::new(interface)
            .map_err(|_| fail("interface name", io::Error::new(io::ErrorKind::InvalidInput, "contains NUL")))?;
        // SAFETY: plain libc calls with valid arguments; every result is checked.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(fail("no such interface", io::Error::last_os_error()));
        }
        // Protocol 0: nothing arrives until bind, so no packet slips past the filter.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(fail("opening an AF_PACKET socket", io::Error::last_os_error()));
        }
        let mut ring = Ring {
            interface: interface.to_string(),
            fd,
            map: std::ptr::null_mut(),
            map_len: 0,
            block_size: cfg.block_size as usize,
            block_count: cfg.block_count as usize,
            next_block: 0,
            link: LinkType::ETHERNET,
            loopback: false,
            stats: RingStats::default(),
            scratch: Vec::new(),
        };
        let hw = ring.hardware_type(&name).map_err(|e| fail("reading the interface's link type", e))?;
        if hw != ARPHRD_ETHER && hw != ARPHRD_LOOPBACK {
            return Err(fail(
                "link type",
                io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("hardware type {hw} is not Ethernet; Tyto captures Ethernet and loopback interfaces"),
                ),
            ));
        }
        ring.loopback = hw == ARPHRD_LOOPBACK;
        ring.setsockopt(PACKET_VERSION, &TPACKET_V3).map_err(|e| fail("asking for TPACKET_V3", e))?;
        let program = match &cfg.filter {
            Some(p) => p.clone(),
            None => crate::filter::compile("", cfg.snaplen).expect("the empty filter compiles"),
        };
        ring.attach_filter(&program).map_err(|e| fail("attaching the capture filter", e))?;
        let req = TpacketReq3 {
            block_size: cfg.block_size,
            block_nr: cfg.block_count,
            frame_size: 2048,
            frame_nr: (cfg.block_size / 2048) * cfg.block_count,
            retire_blk_tov: cfg.block_timeout_ms.max(1),
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        ring.setsockopt(PACKET_RX_RING, &req).map_err(|e| fail("setting up the receive ring", e))?;
        ring.map_len = ring.block_size * ring.block_count;
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring.map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_LOCKED,
                fd,
                0,
            )
        };
        let map = if map == libc::MAP_FAILED {
            // MAP_LOCKED fails where memlock is limited; the ring still works unlocked.
            let m = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    ring.map_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd,
                    0,
                )
            };
            if m == libc::MAP_FAILED {
                return Err(fail("mapping the ring", io::Error::last_os_error()));
            }
            m
        } else {
            map
        };
        ring.map = map.cast();
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex as i32;
        let rc = unsafe {
            libc::bind(
                fd,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(fail("binding to the interface", io::Error::last_os_error()));
        }
        if cfg.promiscuous {
            let mreq = PacketMreq { ifindex: ifindex as i32, kind: PACKET_MR_PROMISC as u16, alen: 0, address: [0; 8] };
            ring.setsockopt(PACKET_ADD_MEMBERSHIP, &mreq).map_err(|e| fail("entering promiscuous mode", e))?;
        }
        if let Some(group) = cfg.fanout_group {
            let arg: u32 = group as u32 | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
            ring.setsockopt(PACKET_FANOUT, &arg).map_err(|e| fail("joining the fanout group", e))?;
        }
        Ok(ring)
    }

    pub fn interface(&self) -> &str {
        &self.interface
    }

    fn hardware_type(&self, name: &CString) -> io::Result<u16> {
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        let bytes = name.as_bytes_with_nul();
        if bytes.len() > req.ifr_name.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "interface name too long"));
        }
        for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        // SAFETY: `req` is a valid ifreq with a NUL-terminated name.
        if unsafe { libc::ioctl(self.fd, libc::SIOCGIFHWADDR, &mut req) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: SIOCGIFHWADDR filled the hardware-address member of the union.
        Ok(unsafe { req.ifr_ifru.ifru_hwaddr.sa_family })
    }

    fn setsockopt<T>(&self, opt: libc::c_int, value: &T) -> io::Result<()> {
        // SAFETY: `value` points to a live T of the size given.
        let rc = unsafe {
            libc::setsockopt(
                self.fd,
                SOL_PACKET,
                opt,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn attach_filter(&self, p: &BpfProgram) -> io::Result<()> {
        let prog = SockFprog { len: p.insns.len() as u16, filter: p.insns.as_ptr() };
        // SAFETY: `prog` points into `p.insns`, alive for the call; the kernel copies it.
        let rc = unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&prog as *const SockFprog).cast(),
                std::mem::size_of::<SockFprog>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout` for a block and delivers its packets to `each`; returns
    /// how many were delivered (0 when nothing came).
    pub fn poll(&mut self, timeout: Duration, each: &mut dyn FnMut(Packet<'_>)) -> io::Result<usize> {
        if !self.block_ready(self.next_block) {
            let mut pfd = libc::pollfd { fd: self.fd, events: libc::POLLIN | libc::POLLERR, revents: 0 };
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                return if e.kind() == io::ErrorKind::Interrupted { Ok(0) } else { Err(e) };
            }
            if pfd.revents & libc::POLLERR != 0 {
                // A pending socket error (the interface went down…): reading it clears it.
                let mut err: libc::c_int = 0;
                let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                // SAFETY: `err` is a writable int and `len` its size.
                unsafe {
                    libc::getsockopt(
                        self.fd,
                        libc::SOL_SOCKET,
                        libc::SO_ERROR,
                        (&mut err as *mut libc::c_int).cast(),
                        &mut len,
                    )
                };
                if err != 0 {
                    return Err(io::Error::from_raw_os_error(err));
                }
            }
        }
        let mut delivered = 0;
        // Every ready block, in ring order; at most one lap.
        for _ in 0..self.block_count {
            if !self.block_ready(self.next_block) {
                break;
            }
            delivered += self.walk_block(self.next_block, each);
            self.release_block(self.next_block);
            self.next_block = (self.next_block + 1) % self.block_count;
        }
        Ok(delivered)
    }

    fn block(&self, i: usize) -> *mut u8 {
        // SAFETY: i < block_count, so the offset stays inside the mapping.
        unsafe { self.map.add(i * self.block_size) }
    }

    fn block_status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: block_status is the aligned u32 at byte 8 of the block descriptor,
        // shared with the kernel, hence accessed atomically.
        unsafe { &*(self.block(i).add(8) as *const AtomicU32) }
    }

    fn block_ready(&self, i: usize) -> bool {
        self.block_status(i).load(Ordering::Acquire) & TP_STATUS_USER != 0
    }

    fn release_block(&self, i: usize) {
        self.block_status(i).store(TP_STATUS_KERNEL, Ordering::Release);
    }

    fn walk_block(&mut self, i: usize, each: &mut dyn FnMut(Packet<'_>)) -> usize {
        let base = self.block(i);
        let size = self.block_size;
        // SAFETY: the block is ours until released; every read stays inside it (checked).
        let block = unsafe { std::slice::from_raw_parts(base as *const u8, size) };
        let u32_at =
            |at: usize| -> Option<u32> { block.get(at..at + 4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]])) };
        let u16_at = |at: usize| -> Option<u16> { block.get(at..at + 2).map(|b| u16::from_ne_bytes([b[0], b[1]])) };
        let num = u32_at(12).unwrap_or(0) as usize;
        let mut at = u32_at(16).unwrap_or(0) as usize;
        let mut delivered = 0;
        for _ in 0..num {
            if at + 40 > size {
                break;
            }
            let next = u32_at(at).unwrap_or(0) as usize;
            let sec = u32_at(at + 4).unwrap_or(0) as i64;
            let nsec = u32_at(at + 8).unwrap_or(0) as i64;
            let snaplen = u32_at(at + 12).unwrap_or(0) as usize;
            let len = u32_at(at + 16).unwrap_or(0);
            let status = u32_at(at + 20).unwrap_or(0);
            let mac = u16_at(at + 24).unwrap_or(0) as usize;
            let tci = u32_at(at + 32).unwrap_or(0) as u16;
            let tpid = u16_at(at + 36).unwrap_or(0);
            let Some(data) = block.get(at + mac..at + mac + snaplen) else { break };
            let ts_ns = sec * 1_000_000_000 + nsec;
            let skip = self.loopback && block.get(at + SLL_PKTTYPE_AT) == Some(&PACKET_OUTGOING);
            if skip {
                // seen again arriving
            } else if status & TP_STATUS_VLAN_VALID != 0 && data.len() >= 12 {
                let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 && tpid != 0 { tpid } else { 0x8100 };
                self.scratch.clear();
                self.scratch.extend_from_slice(&data[..12]);
                self.scratch.extend_from_slice(&tpid.to_be_bytes());
                self.scratch.extend_from_slice(&tci.to_be_bytes());
                self.scratch.extend_from_slice(&data[12..]);
                each(Packet { ts_ns, wire_len: len + 4, link: self.link, data: &self.scratch });
            } else {
                each(Packet { ts_ns, wire_len: len, link: self.link, data });
            }
            delivered += usize::from(!skip);
            if next == 0 {
                break;
            }
            at += next;
        }
        delivered
    }

    /// The kernel's counters, summed since the ring was opened.
    pub fn stats(&mut self) -> io::Result<RingStats> {
        let mut s = TpacketStatsV3::default();
        let mut len = std::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: `s` is writable and `len` its size. The kernel resets its counters
        // on each read, so they are summed here.
        let rc = unsafe {
            libc::getsockopt(self.fd, SOL_PACKET, PACKET_STATISTICS, (&mut s as *mut TpacketStatsV3).cast(), &mut len)
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        self.stats.packets += s.packets as u64;
        self.stats.drops += s.drops as u64;
        Ok(self.stats)
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the mapping and descriptor were created by `open` and are released once.
        unsafe {
            if !self.map.is_null() {
                libc::munmap(self.map.cast(), self.map_len);
            }
            libc::close(self.fd);
        }
    }
}

#[repr(C)]
struct TpacketReq3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    packets: u32,
    drops: u32,
    freeze_q_cnt: u32,
}

#[repr(C)]
struct PacketMreq {
    ifindex: i32,
    kind: u16,
    alen: u16,
    address: [u8; 8],
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const crate::filter::BpfInsn,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Instant;

    /// Moves this test's thread into a network namespace of its own with `lo` up, so
    /// the capture sees only the test's packets. None where the kernel refuses.
    fn own_namespace() -> Option<()> {
        // SAFETY: unshare affects only the calling thread; the ioctls get valid ifreqs.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNET) != 0 {
                eprintln!("skipping: cannot make a network namespace ({})", io::Error::last_os_error());
                return None;
            }
            let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
            let mut req: libc::ifreq = std::mem::zeroed();
            req.ifr_name[0] = b'l' as libc::c_char;
            req.ifr_name[1] = b'o' as libc::c_char;
            assert_eq!(libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req), 0);
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            assert_eq!(libc::ioctl(s, libc::SIOCSIFFLAGS, &mut req), 0);
            libc::close(s);
        }
        Some(())
    }

    fn collect(ring: &mut Ring, want: usize) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        let until = Instant::now() + Duration::from_secs(5);
        while got.len() < want && Instant::now() < until {
            ring.poll(Duration::from_millis(50), &mut |p| got.push(p.data.to_vec())).unwrap();
        }
        got
    }

    #[test]
    fn the_ring_sees_what_is_sent_and_the_filter_and_snap_length_apply() {
        let outcome = std::thread::spawn(|| {
            own_namespace()?;
            let cfg = RingConfig {
                block_size: 1 << 16,
                block_count: 4,
                block_timeout_ms: 10,
                snaplen: 60,
                filter: Some(crate::filter::compile("udp dst port 7001", 60).unwrap()),
                ..RingConfig::default()
            };
            let mut ring = Ring::open("lo", &cfg).unwrap();
            let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
            for (port, n) in [(7001u16, 5usize), (7002, 3)] {
                for i in 0..n {
                    tx.send_to(&[i as u8; 200], ("127.0.0.1", port)).unwrap();
                }
            }
            let got = collect(&mut ring, 5);
            assert_eq!(got.len(), 5, "only port 7001 passes the filter, and each datagram once");
            for f in &got {
                assert_eq!(f.len(), 60, "cut to the snap length");
                assert_eq!(u16::from_be_bytes([f[36], f[37]]), 7001);
            }
            let stats = ring.stats().unwrap();
            // The kernel counts loopback's leaving copies too.
            assert_eq!(stats, RingStats { packets: 10, drops: 0 });
            Some(())
        })
        .join()
        .unwrap();
        let _ = outcome;
    }

    #[test]
    fn a_missing_interface_is_named() {
        let e = Ring::open("no-such-if0", &RingConfig::default()).err().expect("refused");
        let msg = e.to_string();
        assert!(msg.contains("no-such-if0") && msg.contains("no such interface"), "{msg}");
    }
}
