//! `--pcap FILE` / `--pcap-dir DIR`: the relayed bytes of every connection as
//! synthesized TCP packets in a pcapng file, without root: one interface per
//! leg (client <-> proxy, proxy <-> upstream), a three-way handshake, data cut
//! at the MSS with correct sequence and acknowledgement numbers, FIN or RST at
//! the end, real addresses and ports, timestamps as it happened, and a packet
//! comment naming the toxics that acted on a packet. pcapng blocks come from
//! `pcap-file`, packets (with checksums) from `etherparse`; each record is
//! flushed as it is written, so the file is readable while the proxy runs.

use anyhow::{Context, Result};
use etherparse::{PacketBuilder, TcpHeader, TcpOptionElement};
use pcap_file::DataLink;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::warn;

/// Interface 0: the client's leg; interface 1: the upstream's.
const CLIENT_LEG: u32 = 0;
const UPSTREAM_LEG: u32 = 1;

/// Where captures go.
#[derive(Debug, Clone)]
pub enum CaptureTarget {
    /// Every connection into one file (`--pcap FILE`).
    File(Capture),
    /// One file per connection in this folder (`--pcap-dir DIR`).
    Dir(PathBuf),
}

impl CaptureTarget {
    /// The capture a new connection records into.
    pub(crate) fn for_connection(&self, proxy: &str, id: u64) -> Result<Capture> {
        match self {
            CaptureTarget::File(c) => Ok(c.clone()),
            CaptureTarget::Dir(dir) => Capture::create(&dir.join(format!("{proxy}-{id}.pcapng"))),
        }
    }
}

/// A pcapng file being written; cloning shares it.
#[derive(Clone)]
pub struct Capture {
    writer: Arc<Mutex<Writer>>,
}

/// The file, until a write to it fails (a full disk, ...): that is logged
/// once and capturing stops, while relaying goes on.
struct Writer {
    file: Option<PcapNgWriter<BufWriter<File>>>,
    path: PathBuf,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Capture { .. }")
    }
}

impl Capture {
    /// Create (truncate) `path` and write the section header and both interfaces.
    pub fn create(path: &Path) -> Result<Capture> {
        let file = File::create(path).with_context(|| {
            format!(
                "cannot create capture file {}; check the folder exists and is writable",
                path.display()
            )
        })?;
        let mut writer = PcapNgWriter::new(BufWriter::new(file))
            .with_context(|| format!("cannot write {}", path.display()))?;
        for (name, about) in [
            ("client", "client <-> wirekit proxy"),
            ("upstream", "wirekit proxy <-> upstream"),
        ] {
            writer
                .write_pcapng_block(InterfaceDescriptionBlock {
                    linktype: DataLink::RAW,
                    snaplen: 0,
                    options: vec![
                        InterfaceDescriptionOption::IfName(Cow::Borrowed(name)),
                        InterfaceDescriptionOption::IfDescription(Cow::Borrowed(about)),
                        // pcap-file writes nanosecond timestamps.
                        InterfaceDescriptionOption::IfTsResol(9),
                    ],
                })
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        writer
            .get_mut()
            .flush()
            .with_context(|| format!("cannot write capture file {}", path.display()))?;
        Ok(Capture {
            writer: Arc::new(Mutex::new(Writer {
                file: Some(writer),
                path: path.to_path_buf(),
            })),
        })
    }

    /// Write blocks with `f`, then flush; the first failure stops the capture.
    fn with_file(
        &self,
        f: impl FnOnce(&mut PcapNgWriter<BufWriter<File>>) -> Result<(), pcap_file::PcapError>,
    ) {
        let Ok(mut w) = self.writer.lock() else {
            return;
        };
        let Some(file) = w.file.as_mut() else {
            return;
        };
        let written = f(file).and_then(|()| {
            file.get_mut()
                .flush()
                .map_err(pcap_file::PcapError::IoError)
        });
        if let Err(e) = written {
            warn!(
                "cannot write capture file {}: {e}; capturing stopped, relaying goes on",
                w.path.display()
            );
            if let Some(file) = w.file.take() {
                // Its buffer cannot be written either: dropped without a last try.
                drop(file.into_inner().into_parts());
            }
        }
    }

    /// Write packets of one interface, then flush.
    fn write(&self, iface: u32, packets: &[(Vec<u8>, Option<String>)]) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.with_file(|w| {
            for (data, comment) in packets {
                let options = comment
                    .as_ref()
                    .map(|c| vec![EnhancedPacketOption::Comment(Cow::Borrowed(c.as_str()))])
                    .unwrap_or_default();
                w.write_pcapng_block(EnhancedPacketBlock {
                    interface_id: iface,
                    timestamp: now,
                    original_len: data.len() as u32,
                    data: Cow::Borrowed(data),
                    options,
                })?;
            }
            Ok(())
        });
    }
}

/// One leg of one connection: a TCP flow from `a` (who connected) to `b`.
pub(crate) struct Flow {
    capture: Capture,
    iface: u32,
    a: SocketAddr,
    b: SocketAddr,
    /// The next sequence number of `a` and of `b`.
    seq: [u32; 2],
    mss: usize,
}

impl Flow {
    fn new(capture: Capture, iface: u32, a: SocketAddr, b: SocketAddr) -> Flow {
        let mss = if a.is_ipv4() { 1460 } else { 1440 };
        let mut flow = Flow {
            capture,
            iface,
            a,
            b,
            seq: [fastrand::u32(..), fastrand::u32(..)],
            mss,
        };
        flow.handshake();
        flow
    }

    /// One packet from `a` (or from `b`), with the flags set by `flags`.
    fn packet(
        &self,
        from_a: bool,
        seq: u32,
        ack: Option<u32>,
        flags: impl FnOnce(&mut TcpHeader),
        payload: &[u8],
    ) -> Vec<u8> {
        let (src, dst) = if from_a {
            (self.a, self.b)
        } else {
            (self.b, self.a)
        };
        let ip = ip_builder(src, dst);
        let mut header = TcpHeader::new(src.port(), dst.port(), seq, 65535);
        if let Some(ack) = ack {
            header.ack = true;
            header.acknowledgment_number = ack;
        }
        flags(&mut header);
        let tcp = ip.tcp_header(header);
        let mut out = Vec::with_capacity(tcp.size(payload.len()));
        let _ = tcp.write(&mut out, payload);
        out
    }

    fn handshake(&mut self) {
        let mss = [TcpOptionElement::MaximumSegmentSize(self.mss as u16)];
        let [sa, sb] = self.seq;
        let syn = self.packet(
            true,
            sa,
            None,
            |t| {
                t.syn = true;
                let _ = t.set_options(&mss);
            },
            &[],
        );
        let syn_ack = self.packet(
            false,
            sb,
            Some(sa.wrapping_add(1)),
            |t| {
                t.syn = true;
                let _ = t.set_options(&mss);
            },
            &[],
        );
        self.seq = [sa.wrapping_add(1), sb.wrapping_add(1)];
        let ack = self.packet(true, self.seq[0], Some(self.seq[1]), |_| {}, &[]);
        self.capture
            .write(self.iface, &[(syn, None), (syn_ack, None), (ack, None)]);
    }

    /// `data` sent by `a` (or `b`), cut at the MSS; `comment` on every segment.
    pub(crate) fn data(&mut self, from_a: bool, data: &[u8], comment: Option<&str>) {
        let (me, other) = if from_a { (0, 1) } else { (1, 0) };
        let mut packets = Vec::with_capacity(data.len() / self.mss + 1);
        let count = data.chunks(self.mss).len();
        for (i, seg) in data.chunks(self.mss).enumerate() {
            let last = i + 1 == count;
            let p = self.packet(
                from_a,
                self.seq[me],
                Some(self.seq[other]),
                |t| t.psh = last,
                seg,
            );
            self.seq[me] = self.seq[me].wrapping_add(seg.len() as u32);
            packets.push((p, comment.map(str::to_string)));
        }
        self.capture.write(self.iface, &packets);
    }

    /// `a` (or `b`) closed its sending side.
    pub(crate) fn fin(&mut self, from_a: bool) {
        let (me, other) = if from_a { (0, 1) } else { (1, 0) };
        let p = self.packet(
            from_a,
            self.seq[me],
            Some(self.seq[other]),
            |t| t.fin = true,
            &[],
        );
        self.seq[me] = self.seq[me].wrapping_add(1);
        self.capture.write(self.iface, &[(p, None)]);
    }

    /// `a` (or `b`) reset the connection.
    pub(crate) fn rst(&mut self, from_a: bool, comment: Option<&str>) {
        let (me, other) = if from_a { (0, 1) } else { (1, 0) };
        let p = self.packet(
            from_a,
            self.seq[me],
            Some(self.seq[other]),
            |t| t.rst = true,
            &[],
        );
        self.capture
            .write(self.iface, &[(p, comment.map(str::to_string))]);
    }
}

/// The IP layer of a packet from `src` to `dst` (IPv6 when either is).
fn ip_builder(
    src: SocketAddr,
    dst: SocketAddr,
) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (s, d) => PacketBuilder::ipv6(v6(s), v6(d), 64),
    }
}

impl Capture {
    /// A UDP datagram `from` -> `to` on the client's leg (`client_leg`) or the
    /// upstream's; `comment` names the faults that acted on it.
    pub(crate) fn datagram(
        &self,
        client_leg: bool,
        from: SocketAddr,
        to: SocketAddr,
        payload: &[u8],
        comment: Option<&str>,
    ) {
        let udp = ip_builder(from, to).udp(from.port(), to.port());
        let mut out = Vec::with_capacity(udp.size(payload.len()));
        if udp.write(&mut out, payload).is_err() {
            return; // larger than an IP packet holds: not recorded
        }
        let iface = if client_leg { CLIENT_LEG } else { UPSTREAM_LEG };
        self.write(iface, &[(out, comment.map(str::to_string))]);
    }
}

/// An IPv6 address for the packet (IPv4 mapped when the families differ).
fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// One side of a leg, as a direction of the relay sees it: the peer there is
/// `a` of the flow (the client on the client's leg) or `b` (the upstream).
#[derive(Clone)]
pub(crate) struct Side {
    flow: Arc<Mutex<Flow>>,
    peer_is_a: bool,
}

impl Side {
    /// The client's leg: the client connected to the proxy at `local`.
    pub(crate) fn client(capture: Capture, client: SocketAddr, local: SocketAddr) -> Side {
        Side {
            flow: Arc::new(Mutex::new(Flow::new(capture, CLIENT_LEG, client, local))),
            peer_is_a: true,
        }
    }

    /// The upstream's leg: the proxy connected from `local` to `upstream`.
    pub(crate) fn upstream(capture: Capture, local: SocketAddr, upstream: SocketAddr) -> Side {
        Side {
            flow: Arc::new(Mutex::new(Flow::new(
                capture,
                UPSTREAM_LEG,
                local,
                upstream,
            ))),
            peer_is_a: false,
        }
    }

    fn with(&self, f: impl FnOnce(&mut Flow)) {
        if let Ok(mut flow) = self.flow.lock() {
            f(&mut flow);
        }
    }

    /// The peer sent `data` to the proxy.
    pub(crate) fn peer_sent(&self, data: &[u8]) {
        self.with(|f| f.data(self.peer_is_a, data, None));
    }

    /// The proxy sent `data` to the peer; `comment` names the toxics that acted.
    pub(crate) fn proxy_sent(&self, data: &[u8], comment: Option<&str>) {
        self.with(|f| f.data(!self.peer_is_a, data, comment));
    }

    /// The peer half-closed.
    pub(crate) fn peer_fin(&self) {
        self.with(|f| f.fin(self.peer_is_a));
    }

    /// The proxy half-closed towards the peer.
    pub(crate) fn proxy_fin(&self) {
        self.with(|f| f.fin(!self.peer_is_a));
    }

    /// The peer reset the connection.
    pub(crate) fn peer_rst(&self) {
        self.with(|f| f.rst(self.peer_is_a, None));
    }

    /// The proxy reset the connection to the peer.
    pub(crate) fn proxy_rst(&self, comment: Option<&str>) {
        self.with(|f| f.rst(!self.peer_is_a, comment));
    }
}

impl Capture {
    /// A Decryption Secrets Block (pcapng type 0x0A) of TLS key log lines, so
    /// Wireshark decrypts the TLS after it with no key file.
    fn write_secrets(&self, lines: &str) {
        self.with_file(|w| {
            const TLS_KEY_LOG: u32 = 0x544c_534b;
            let little = matches!(w.section().endianness, pcap_file::Endianness::Little);
            let word = |n: u32| {
                if little {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                }
            };
            let mut value = Vec::with_capacity(8 + lines.len() + 3);
            value.extend_from_slice(&word(TLS_KEY_LOG));
            value.extend_from_slice(&word(lines.len() as u32));
            value.extend_from_slice(lines.as_bytes());
            while value.len() % 4 != 0 {
                value.push(0); // the block's data is padded to 32 bits
            }
            let block = pcap_file::pcapng::blocks::unknown::UnknownBlock {
                type_: 0x0000_000A,
                length: value.len() as u32,
                value: Cow::Owned(value),
            };
            w.write_pcapng_block(block).map(|_| ())
        });
    }
}

/// The TLS secrets of upstream connections, written into the capture as they
/// are made (NSS key log lines, as SSLKEYLOGFILE holds them).
pub(crate) struct KeyLogger {
    capture: Capture,
}

impl KeyLogger {
    pub(crate) fn new(capture: Capture) -> KeyLogger {
        KeyLogger { capture }
    }
}

impl std::fmt::Debug for KeyLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyLogger { .. }")
    }
}

impl rustls::KeyLog for KeyLogger {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        self.capture.write_secrets(&line);
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

/// A byte stream whose traffic is recorded on a leg as it passes: the proxy's
/// TCP connection to a TLS upstream, so the capture holds the TLS records
/// themselves (decrypted by Wireshark with the keys in the file).
///
/// During the TLS handshake what passes is held back and recorded, in order,
/// when [`Held::release`] is called after it: the session keys (written as
/// they are made) then come before the records they decrypt, as a one-pass
/// reader such as tshark needs them.
pub(crate) struct Recorder<S> {
    inner: S,
    side: Option<Side>,
    held: Held,
    note: Option<Note>,
}

/// The packet comment for what a [`Recorder`] writes next: set by the relay's
/// chain before each write (the toxics that acted on it), so the TLS records
/// of the upstream leg carry the same comments as the plain legs.
#[derive(Clone, Default)]
pub(crate) struct Note(Arc<Mutex<Option<String>>>);

impl Note {
    /// Name the toxics of the next write (`None`: none acted).
    pub(crate) fn set(&self, comment: Option<&str>) {
        if let Ok(mut n) = self.0.lock()
            && n.as_deref() != comment
        {
            *n = comment.map(str::to_string);
        }
    }

    fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|n| n.clone())
    }
}

/// One held-back chunk: (sent by the peer?, bytes).
type Chunk = (bool, Vec<u8>);

/// What a [`Recorder`] holds back, in order; `None` once released.
#[derive(Clone, Default)]
pub(crate) struct Held(Arc<Mutex<Option<Vec<Chunk>>>>);

impl Held {
    /// Record what was held back, and from now on record as it passes.
    pub(crate) fn release(&self, side: Option<&Side>) {
        let held = self.0.lock().ok().and_then(|mut h| h.take());
        if let (Some(held), Some(side)) = (held, side) {
            for (from_peer, data) in held {
                if from_peer {
                    side.peer_sent(&data);
                } else {
                    side.proxy_sent(&data, None);
                }
            }
        }
    }

    /// Hold `data` back; false once released (then record it at once).
    fn hold(&self, from_peer: bool, data: &[u8]) -> bool {
        match self.0.lock() {
            Ok(mut h) => match h.as_mut() {
                Some(list) => {
                    list.push((from_peer, data.to_vec()));
                    true
                }
                None => false,
            },
            Err(_) => false,
        }
    }
}

impl<S> Recorder<S> {
    /// Wrap `inner`, holding back what passes until the returned handle is
    /// released; what it writes carries the comment in `note`.
    pub(crate) fn new(inner: S, side: Option<Side>, note: Option<Note>) -> (Recorder<S>, Held) {
        let held = Held(Arc::new(Mutex::new(Some(Vec::new()))));
        (
            Recorder {
                inner,
                side,
                held: held.clone(),
                note,
            },
            held,
        )
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Recorder<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        match &polled {
            std::task::Poll::Ready(Ok(())) if buf.filled().len() > before => {
                if let Some(side) = &this.side
                    && !this.held.hold(true, &buf.filled()[before..])
                {
                    side.peer_sent(&buf.filled()[before..]);
                }
            }
            std::task::Poll::Ready(Ok(())) => this.side.iter().for_each(Side::peer_fin),
            _ => {}
        }
        polled
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Recorder<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.inner).poll_write(cx, buf);
        if let (std::task::Poll::Ready(Ok(n)), Some(side)) = (&polled, &this.side)
            && !this.held.hold(false, &buf[..*n])
        {
            let comment = this.note.as_ref().and_then(Note::get);
            side.proxy_sent(&buf[..*n], comment.as_deref());
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.inner).poll_shutdown(cx);
        if let std::task::Poll::Ready(Ok(())) = &polled {
            this.side.iter().for_each(Side::proxy_fin);
        }
        polled
    }
}
