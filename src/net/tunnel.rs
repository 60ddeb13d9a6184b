//! Connecting through a proxy, as `ncat --proxy`: HTTP CONNECT (written here: a
//! request line and one response head), SOCKS4 and SOCKS5 (the `tokio-socks` crate).

use super::HostPort;
use anyhow::{Result, anyhow};
use base64::Engine;
use std::net::IpAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Which protocol the proxy speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyKind {
    /// HTTP CONNECT (ncat's default).
    #[default]
    Http,
    /// SOCKS4 (names are resolved here; the user name is sent as the user id).
    Socks4,
    /// SOCKS5 (names are resolved by the proxy; optional user/password).
    Socks5,
}

impl std::fmt::Display for ProxyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProxyKind::Http => "HTTP",
            ProxyKind::Socks4 => "SOCKS4",
            ProxyKind::Socks5 => "SOCKS5",
        })
    }
}

/// A proxy to connect through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// The proxy's address.
    pub proxy: HostPort,
    /// Its protocol.
    pub kind: ProxyKind,
    /// `USER` and `PASS` for the proxy, if it needs them.
    pub auth: Option<(String, String)>,
}

/// The largest HTTP CONNECT response head read.
const MAX_HEAD: usize = 16 * 1024;

impl Tunnel {
    /// Ask the proxy, over `tcp` (connected to it), for a tunnel to `target`.
    pub(crate) async fn open(&self, tcp: TcpStream, target: &HostPort) -> Result<TcpStream> {
        let proxy = &self.proxy;
        match self.kind {
            ProxyKind::Http => self.http_connect(tcp, target).await,
            ProxyKind::Socks4 => {
                // SOCKS4 carries an IPv4 address: resolve here.
                let ip = target
                    .resolve()
                    .await?
                    .into_iter()
                    .find(|a| a.is_ipv4())
                    .ok_or_else(|| anyhow!("{target} has no IPv4 address, which SOCKS4 needs; use --proxy-type socks5"))?;
                let user = self.auth.as_ref().map(|(u, _)| u.as_str());
                let stream = match user {
                    Some(u) => {
                        tokio_socks::tcp::Socks4Stream::connect_with_userid_and_socket(tcp, ip, u)
                            .await
                    }
                    None => tokio_socks::tcp::Socks4Stream::connect_with_socket(tcp, ip).await,
                };
                stream.map(|s| s.into_inner()).map_err(|e| {
                    anyhow!("the SOCKS4 proxy {proxy} did not connect to {target}: {e}")
                })
            }
            ProxyKind::Socks5 => {
                let host = target.host.as_str();
                let stream = match (&self.auth, host.parse::<IpAddr>()) {
                    (Some((u, p)), Ok(ip)) => {
                        tokio_socks::tcp::Socks5Stream::connect_with_password_and_socket(
                            tcp,
                            (ip, target.port),
                            u,
                            p,
                        )
                        .await
                    }
                    (Some((u, p)), Err(_)) => {
                        tokio_socks::tcp::Socks5Stream::connect_with_password_and_socket(
                            tcp,
                            (host, target.port),
                            u,
                            p,
                        )
                        .await
                    }
                    (None, Ok(ip)) => {
                        tokio_socks::tcp::Socks5Stream::connect_with_socket(tcp, (ip, target.port))
                            .await
                    }
                    (None, Err(_)) => {
                        tokio_socks::tcp::Socks5Stream::connect_with_socket(
                            tcp,
                            (host, target.port),
                        )
                        .await
                    }
                };
                stream.map(|s| s.into_inner()).map_err(|e| {
                    let hint = match e {
                        tokio_socks::Error::NoAcceptableAuthMethods
                        | tokio_socks::Error::PasswordAuthFailure(_) => {
                            "; check --proxy-auth USER:PASS"
                        }
                        _ => "",
                    };
                    anyhow!("the SOCKS5 proxy {proxy} did not connect to {target}: {e}{hint}")
                })
            }
        }
    }

    async fn http_connect(&self, mut tcp: TcpStream, target: &HostPort) -> Result<TcpStream> {
        let proxy = &self.proxy;
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some((user, pass)) = &self.auth {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        tcp.write_all(request.as_bytes())
            .await
            .map_err(|e| anyhow!("sending CONNECT to the HTTP proxy {proxy}: {e}"))?;
        // Byte by byte up to the blank line, so no tunnelled byte is taken from the stream.
        let mut head = Vec::with_capacity(256);
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() >= MAX_HEAD {
                return Err(anyhow!(
                    "the HTTP proxy {proxy} sent an answer head over 16 KiB"
                ));
            }
            let byte = tcp.read_u8().await.map_err(|e| {
                anyhow!("the HTTP proxy {proxy} closed before answering CONNECT: {e}")
            })?;
            head.push(byte);
        }
        let text = String::from_utf8_lossy(&head);
        let status_line = text.lines().next().unwrap_or_default();
        let status = status_line.split_whitespace().nth(1).unwrap_or_default();
        let shown = crate::text::escape_str(status_line, crate::text::Keep::Nothing);
        match status {
            s if s.starts_with('2') => Ok(tcp),
            "407" if self.auth.is_none() => Err(anyhow!(
                "the HTTP proxy {proxy} wants a user name and password ({shown}); pass --proxy-auth USER:PASS"
            )),
            "407" => Err(anyhow!(
                "the HTTP proxy {proxy} refused the credentials of --proxy-auth ({shown})"
            )),
            _ => Err(anyhow!(
                "the HTTP proxy {proxy} refused CONNECT {target}: {shown}"
            )),
        }
    }
}
