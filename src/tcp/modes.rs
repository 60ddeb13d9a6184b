//! What a listener does with one client in the simple modes: echo, reply once,
//! or hand the connection to a program.

use super::listen::{Event, Events};
use crate::net::BoxStream;
use crate::net::stream::read_chunk;
use anyhow::{Result, anyhow};
use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::warn;

/// How long a replying server keeps reading after its answer (a lingering close).
const LINGER: Duration = Duration::from_secs(2);

/// `--echo`: send every byte back until the client closes.
pub(crate) async fn echo(stream: BoxStream) -> Result<()> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    loop {
        let chunk = read_chunk(&mut rd).await?;
        if chunk.is_empty() {
            break;
        }
        wr.write_all(&chunk).await?;
    }
    wr.shutdown().await?;
    Ok(())
}

/// The seed's server: read one message, report it, answer, close.
pub(crate) async fn reply(
    mut stream: BoxStream,
    peer: SocketAddr,
    id: u64,
    text: Bytes,
    events: &Events,
) -> Result<()> {
    let mut buf = vec![0u8; 65536];
    let n = stream.read(&mut buf).await?;
    if n == 0 {
        return Ok(()); // closed without a message: nothing to answer
    }
    events
        .send(Event::Message {
            id,
            peer,
            data: Bytes::copy_from_slice(&buf[..n]),
        })
        .await;
    stream.write_all(&text).await?;
    stream.shutdown().await?;
    // Lingering close: read what the client still sends so our reply is not lost to a reset.
    let _ = tokio::time::timeout(LINGER, async {
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    Ok(())
}

/// `--exec` / `--sh-exec` (listen and connect): the program's stdin and stdout
/// become the connection. It is told both ends, under wirekit's names and ncat's:
/// `WIREKIT_PEER_ADDR`/`_PORT`, `WIREKIT_LOCAL_ADDR`/`_PORT`, `NCAT_REMOTE_ADDR`/`_PORT`,
/// `NCAT_LOCAL_ADDR`/`_PORT` and `NCAT_PROTO=TCP`.
pub(crate) async fn exec(
    stream: BoxStream,
    peer: SocketAddr,
    local: SocketAddr,
    words: &[String],
) -> Result<()> {
    let Some((program, args)) = words.split_first() else {
        return Err(anyhow!("no program to run for {peer}"));
    };
    let (peer_ip, peer_port) = (
        peer.ip().to_canonical().to_string(),
        peer.port().to_string(),
    );
    let (local_ip, local_port) = (
        local.ip().to_canonical().to_string(),
        local.port().to_string(),
    );
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("WIREKIT_PEER_ADDR", &peer_ip)
        .env("WIREKIT_PEER_PORT", &peer_port)
        .env("WIREKIT_LOCAL_ADDR", &local_ip)
        .env("WIREKIT_LOCAL_PORT", &local_port)
        .env("NCAT_REMOTE_ADDR", &peer_ip)
        .env("NCAT_REMOTE_PORT", &peer_port)
        .env("NCAT_LOCAL_ADDR", &local_ip)
        .env("NCAT_LOCAL_PORT", &local_port)
        .env("NCAT_PROTO", "TCP")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => anyhow!(
                "cannot run '{program}' for {peer}: program not found; check the name or PATH"
            ),
            io::ErrorKind::PermissionDenied => {
                anyhow!("cannot run '{program}' for {peer}: permission denied; is it executable?")
            }
            _ => anyhow!("cannot run '{program}' for {peer}: {e}"),
        })?;
    let (Some(mut child_in), Some(mut child_out)) = (child.stdin.take(), child.stdout.take())
    else {
        return Err(anyhow!("'{program}' started without pipes"));
    };
    let (mut rd, mut wr) = tokio::io::split(stream);
    let to_child = async move {
        let copied = tokio::io::copy(&mut rd, &mut child_in).await;
        drop(child_in); // the program's stdin closes: it sees EOF
        // A program that stopped reading (EPIPE) leaves the client's input unread;
        // read it into the void, so that closing the socket is a FIN, not a reset
        // that would throw away the program's output still on its way.
        if copied.is_err() {
            let _ = tokio::io::copy(&mut rd, &mut tokio::io::sink()).await;
        }
    };
    let from_child = async move {
        let copied = tokio::io::copy(&mut child_out, &mut wr).await;
        let _ = wr.shutdown().await;
        copied
    };
    tokio::pin!(to_child, from_child);
    // The connection ends when the program's output ends, as with ncat; then, as
    // `reply` does, what the client still sends is read for a moment (lingering close).
    let copied = tokio::select! {
        r = &mut from_child => {
            let _ = tokio::time::timeout(LINGER, &mut to_child).await;
            r
        }
        _ = &mut to_child => from_child.await,
    };
    let status = child.wait().await?;
    if !status.success() {
        warn!("'{program}' for {peer} exited with {status}");
    }
    copied
        .map(|_| ())
        .map_err(|e| anyhow!("relaying '{program}' output to {peer}: {e}"))
}
