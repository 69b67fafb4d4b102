//! The lab's own sender and servers (`kpath lab send PLAN`, `kpath lab serve SPEC`), which
//! `kpath verify` runs inside the lab's namespaces so the kernel sends exactly the bytes
//! kpath traced (kpath_sim::lab::send decides what): sockets bound to kpath's source port,
//! with its TTL and path MTU discovery, a raw socket (IP_HDRINCL) for a TCP segment, and
//! servers that answer a flow's request with its response size.

use crate::failure::{Failure, Output};
use kpath_sim::lab::send::{FlowPlan, Proto, SendPlan, ServePlan, outcome_words, pmtudisc_value};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the sender waits for an answer.
const WAIT: Duration = Duration::from_millis(2500);

fn fail(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure {
        message: format!("error: the lab's {what}: {e}"),
        status: 1,
    }
}

fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}

/// `kpath lab send PLAN`: send, wait for the answer, print what happened (one line that
/// `verify` reads) and succeed only when the answer came.
pub fn send(plan: &Path) -> Result<Output, Failure> {
    let first: SendPlan = read_json(plan).map_err(|e| fail("sender", e))?;
    // A flow of several connections runs them one after another, each from its own port.
    let mut runs = vec![first.clone()];
    for port in &first.again {
        let mut p = first.clone();
        match p.proto {
            Proto::Icmp => p.ident = *port,
            _ => p.sport = *port,
        }
        runs.push(p);
    }
    let mut kind = "reply";
    let mut open = Vec::new();
    for p in &runs {
        kind = match (p.proto, p.flow) {
            (Proto::Icmp, _) => icmp(p),
            (Proto::Udp, f) => udp(p, f),
            (Proto::Tcp, None) => tcp_raw(p),
            (Proto::Tcp, Some(f)) => tcp_flow(p, f).map(|(k, conn)| {
                open.extend(conn);
                k
            }),
        }
        .unwrap_or_else(|e| errno_kind(&e));
        if !matches!(kind, "reply" | "sent") {
            break;
        }
    }
    let ok = matches!(kind, "reply" | "sent");
    println!("{}", outcome_words(kind));
    let _ = std::io::stdout().flush();
    // A flow that does not close keeps its connections: the verifier ends this process
    // once it has stopped watching, so their FINs are not part of the flow.
    if !open.is_empty() {
        std::thread::sleep(Duration::from_secs(20));
    }
    drop(open);
    Ok(Output::Report {
        text: String::new(),
        ok,
    })
}

/// What a failed socket call says about the packet.
fn errno_kind(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EMSGSIZE) => "emsgsize",
        Some(libc::ECONNREFUSED) => "refused",
        Some(libc::EHOSTUNREACH) => "host",
        Some(libc::ENETUNREACH) => "net",
        _ => "none",
    }
}

fn socket(ty: i32, proto: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the descriptor is owned from here on.
    let fd = unsafe { libc::socket(libc::AF_INET, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setopt(fd: RawFd, level: i32, name: i32, val: i32) -> std::io::Result<()> {
    // SAFETY: an int option, passed by pointer with its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&val as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn set_timeout(fd: RawFd, name: i32, d: Duration) -> std::io::Result<()> {
    let tv = libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: a timeval option, passed by pointer with its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn addr(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// `bind` or `connect` (`call`) to `ip:port`.
fn with_addr(
    fd: RawFd,
    ip: Ipv4Addr,
    port: u16,
    call: unsafe extern "C" fn(libc::c_int, *const libc::sockaddr, libc::socklen_t) -> libc::c_int,
) -> std::io::Result<()> {
    let a = addr(ip, port);
    // SAFETY: a sockaddr_in of the right size, alive for the call.
    let r = unsafe {
        call(
            fd,
            (&a as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn bind(fd: RawFd, ip: Ipv4Addr, port: u16) -> std::io::Result<()> {
    setopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    with_addr(fd, ip, port, libc::bind)
}

fn connect(fd: RawFd, ip: Ipv4Addr, port: u16) -> std::io::Result<()> {
    with_addr(fd, ip, port, libc::connect)
}

fn send_to(fd: RawFd, bytes: &[u8], ip: Ipv4Addr) -> std::io::Result<()> {
    let a = addr(ip, 0);
    // SAFETY: the buffer and the sockaddr_in are valid for the sizes given.
    let r = unsafe {
        libc::sendto(
            fd,
            bytes.as_ptr().cast(),
            bytes.len(),
            0,
            (&a as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn recv(fd: RawFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: the buffer is valid for its length.
    let r = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(r as usize)
}

/// Path MTU discovery and TTL, as the plan says.
fn ip_options(fd: RawFd, p: &SendPlan) -> std::io::Result<()> {
    setopt(
        fd,
        libc::IPPROTO_IP,
        libc::IP_MTU_DISCOVER,
        pmtudisc_value(&p.pmtudisc),
    )?;
    if let Some(ttl) = p.ttl {
        setopt(fd, libc::IPPROTO_IP, libc::IP_TTL, i32::from(ttl))?;
    }
    Ok(())
}

/// The internet checksum (RFC 1071).
fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP error a raw ICMP socket received about a packet of ours: which kind. `ours`
/// is given the quoted transport header's first 8 bytes and its protocol.
fn icmp_error(pkt: &[u8], ours: &dyn Fn(u8, &[u8]) -> bool) -> Option<&'static str> {
    let ihl = usize::from(pkt.first()? & 0x0f) * 4;
    let (ty, code) = (*pkt.get(ihl)?, *pkt.get(ihl + 1)?);
    let quote = pkt.get(ihl + 8..)?;
    let qihl = usize::from(quote.first()? & 0x0f) * 4;
    let qproto = *quote.get(9)?;
    let ql4 = quote.get(qihl..)?;
    if !ours(qproto, ql4) {
        return None;
    }
    match (ty, code) {
        (3, 4) => Some("frag"),
        (3, 3) => Some("refused"),
        (3, 0) => Some("net"),
        (3, _) => Some("host"),
        (11, _) => Some("ttl"),
        _ => None,
    }
}

/// Wait on a raw ICMP socket for an error about our packet.
fn icmp_errors(
    fd: RawFd,
    until: Instant,
    ours: &dyn Fn(u8, &[u8]) -> bool,
) -> Option<&'static str> {
    let mut buf = vec![0u8; 65536];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        set_timeout(fd, libc::SO_RCVTIMEO, left.max(Duration::from_millis(1))).ok()?;
        let n = recv(fd, &mut buf).ok()?;
        if let Some(k) = icmp_error(&buf[..n], ours) {
            return Some(k);
        }
    }
    None
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// ping's echo request, through a raw ICMP socket (the kernel adds the IP header and
/// fragments it as the socket's path MTU discovery allows).
fn icmp(p: &SendPlan) -> std::io::Result<&'static str> {
    let fd = socket(libc::SOCK_RAW, libc::IPPROTO_ICMP)?;
    let raw = fd.as_raw_fd();
    ip_options(raw, p)?;
    let mut msg = vec![8, 0, 0, 0];
    msg.extend(p.ident.to_be_bytes());
    msg.extend(1u16.to_be_bytes());
    msg.extend(kpath_sim::engine::ping_data(p.size as u16));
    let sum = checksum(&msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    send_to(raw, &msg, p.dst)?;
    let until = Instant::now() + WAIT;
    let mut buf = vec![0u8; 65536];
    let ident = p.ident;
    let ours = move |proto: u8, l4: &[u8]| proto == 1 && be16(l4, 4) == Some(ident);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        set_timeout(raw, libc::SO_RCVTIMEO, left.max(Duration::from_millis(1)))?;
        let Ok(n) = recv(raw, &mut buf) else { break };
        let pkt = &buf[..n];
        let ihl = usize::from(pkt[0] & 0x0f) * 4;
        if pkt.get(ihl) == Some(&0) && be16(pkt, ihl + 4) == Some(ident) {
            return Ok("reply");
        }
        if let Some(k) = icmp_error(pkt, &ours) {
            return Ok(k);
        }
    }
    Ok("none")
}

/// A UDP datagram from kpath's source port; for a flow, the response too.
fn udp(p: &SendPlan, flow: Option<FlowPlan>) -> std::io::Result<&'static str> {
    let errs = socket(libc::SOCK_RAW, libc::IPPROTO_ICMP)?;
    let fd = socket(libc::SOCK_DGRAM, 0)?;
    let raw = fd.as_raw_fd();
    bind(raw, Ipv4Addr::UNSPECIFIED, p.sport)?;
    ip_options(raw, p)?;
    connect(raw, p.dst, p.dport)?;
    let sock = UdpSocket::from(fd);
    sock.send(&vec![kpath_sim::engine::UDP_FILL; p.size])?;
    let wait = if flow.is_some() {
        WAIT
    } else {
        Duration::from_millis(1000)
    };
    sock.set_read_timeout(Some(wait))?;
    let mut buf = vec![0u8; 65536];
    let got = sock.recv(&mut buf);
    let sport = p.sport;
    let ours = move |proto: u8, l4: &[u8]| proto == 17 && be16(l4, 0) == Some(sport);
    match got {
        Ok(_) => Ok("reply"),
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => Ok("refused"),
        Err(_) => Ok(icmp_errors(
            errs.as_raw_fd(),
            Instant::now() + Duration::from_millis(50),
            &ours,
        )
        .unwrap_or(if flow.is_some() { "none" } else { "sent" })),
    }
}

/// A TCP segment exactly as kpath built it, through a raw socket (IP_HDRINCL); the answer
/// (a SYN-ACK or ACK, a RST, an ICMP error) is read from raw TCP and ICMP sockets.
fn tcp_raw(p: &SendPlan) -> std::io::Result<&'static str> {
    let errs = socket(libc::SOCK_RAW, libc::IPPROTO_ICMP)?;
    let replies = socket(libc::SOCK_RAW, libc::IPPROTO_TCP)?;
    let fd = socket(libc::SOCK_RAW, libc::IPPROTO_RAW)?;
    send_to(fd.as_raw_fd(), p.raw.as_deref().unwrap_or_default(), p.dst)?;
    let until = Instant::now() + WAIT;
    let mut buf = vec![0u8; 65536];
    let (sport, dport) = (p.sport, p.dport);
    let r = replies.as_raw_fd();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        set_timeout(r, libc::SO_RCVTIMEO, left.max(Duration::from_millis(1)))?;
        let Ok(n) = recv(r, &mut buf) else { break };
        let pkt = &buf[..n];
        let ihl = usize::from(pkt[0] & 0x0f) * 4;
        if be16(pkt, ihl) == Some(dport) && be16(pkt, ihl + 2) == Some(sport) {
            let flags = pkt.get(ihl + 13).copied().unwrap_or(0);
            return Ok(if flags & 0x04 != 0 {
                "refused"
            } else {
                "reply"
            });
        }
    }
    let ours = move |proto: u8, l4: &[u8]| proto == 6 && be16(l4, 0) == Some(sport);
    Ok(icmp_errors(
        errs.as_raw_fd(),
        Instant::now() + Duration::from_millis(50),
        &ours,
    )
    .unwrap_or("none"))
}

/// A connection as a flow makes it: connect from kpath's source port, the request, the
/// response, and (if the flow closes) the client's FIN first.
fn tcp_flow(p: &SendPlan, f: FlowPlan) -> std::io::Result<(&'static str, Option<TcpStream>)> {
    let fd = socket(libc::SOCK_STREAM, 0)?;
    let raw = fd.as_raw_fd();
    bind(raw, Ipv4Addr::UNSPECIFIED, p.sport)?;
    ip_options(raw, p)?;
    set_timeout(raw, libc::SO_SNDTIMEO, WAIT)?;
    connect(raw, p.dst, p.dport).map_err(|e| {
        if e.raw_os_error() == Some(libc::EINPROGRESS) {
            std::io::Error::from_raw_os_error(libc::ETIMEDOUT)
        } else {
            e
        }
    })?;
    let mut s = TcpStream::from(fd);
    s.set_read_timeout(Some(WAIT))?;
    if f.request > 0 {
        s.write_all(&vec![kpath_sim::engine::TCP_FILL; f.request])?;
    }
    let mut got = 0;
    let mut buf = vec![0u8; 65536];
    while got < f.response {
        match s.read(&mut buf)? {
            0 => break,
            n => got += n,
        }
    }
    if got < f.response {
        return Ok(("none", None));
    }
    if !f.close {
        return Ok(("reply", Some(s)));
    }
    s.shutdown(std::net::Shutdown::Write)?;
    while s.read(&mut buf)? > 0 {}
    Ok(("reply", None))
}

/// What a server listens on, and where it reads what to answer.
#[derive(serde::Deserialize)]
struct ServeSpec {
    proto: Proto,
    port: u16,
    plan: std::path::PathBuf,
}

/// `kpath lab serve SPEC`: listen on the port, and answer each connection or datagram as
/// the plan file says at that moment (`verify` rewrites it before each item).
pub fn serve(spec: &Path) -> Result<Output, Failure> {
    let s: ServeSpec = read_json(spec).map_err(|e| fail("server", e))?;
    let plan = |p: &Path| read_json::<ServePlan>(p).unwrap_or_default();
    match s.proto {
        Proto::Udp => {
            let sock = UdpSocket::bind(("0.0.0.0", s.port)).map_err(|e| fail("server", e))?;
            let mut buf = vec![0u8; 65536];
            loop {
                let (_, peer) = sock.recv_from(&mut buf).map_err(|e| fail("server", e))?;
                let n = plan(&s.plan).response;
                if n > 0 {
                    let _ = sock.send_to(&vec![kpath_sim::engine::UDP_FILL; n], peer);
                }
            }
        }
        Proto::Tcp => {
            let l = TcpListener::bind(("0.0.0.0", s.port)).map_err(|e| fail("server", e))?;
            for conn in l.incoming().flatten() {
                let p = plan(&s.plan);
                std::thread::spawn(move || answer(conn, p));
            }
            Ok(Output::Text(String::new()))
        }
        Proto::Icmp => Err(fail("server", "ICMP needs no server: the kernel answers")),
    }
}

/// One connection: read the request, write the response, close when the client does.
fn answer(mut c: TcpStream, p: ServePlan) {
    let _ = c.set_read_timeout(Some(WAIT));
    let mut buf = vec![0u8; 65536];
    let mut got = 0;
    while got < p.request {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => got += n,
        }
    }
    if p.response > 0
        && c.write_all(&vec![kpath_sim::engine::TCP_FILL; p.response])
            .is_err()
    {
        return;
    }
    while matches!(c.read(&mut buf), Ok(n) if n > 0) {}
}
