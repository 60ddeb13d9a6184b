//! Clients of one listener that hear each other: `--broker` relays bytes,
//! `--chat` relays lines with `<userN>` names and announces joins and leaves;
//! in `-k` pipe mode every client hears stdin.

use crate::net::Conn;
use crate::net::stream::read_chunk;
use crate::text::{Keep, escape};
use anyhow::Result;
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::info;

/// The members of one listener, each with the queue of what it is to hear.
#[derive(Clone, Default)]
pub(crate) struct Hub {
    members: Arc<Mutex<HashMap<u64, mpsc::Sender<Bytes>>>>,
}

impl Hub {
    /// Add member `id`; its receiver and the number of members now.
    fn join(&self, id: u64) -> (mpsc::Receiver<Bytes>, usize) {
        let (tx, rx) = mpsc::channel(64);
        let mut n = 0;
        if let Ok(mut m) = self.members.lock() {
            m.insert(id, tx);
            n = m.len();
        }
        (rx, n)
    }

    fn leave(&self, id: u64) {
        if let Ok(mut m) = self.members.lock() {
            m.remove(&id);
        }
    }

    fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .members
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// Send to every member but `from`; waits for slow members rather than dropping data.
    pub(crate) async fn publish(&self, from: u64, data: Bytes) {
        let targets: Vec<mpsc::Sender<Bytes>> = self
            .members
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(id, _)| **id != from)
                    .map(|(_, tx)| tx.clone())
                    .collect()
            })
            .unwrap_or_default();
        for tx in targets {
            let _ = tx.send(data.clone()).await;
        }
    }
}

/// Where a hub member's bytes go.
pub(crate) enum Relay {
    /// To the other members (`--broker`).
    Hub(Hub),
    /// To stdout (`-k` pipe mode), or nowhere.
    Stdout(Option<mpsc::Sender<Bytes>>),
}

/// Write what the hub queues for a member to its client until the queue closes.
async fn deliver<W: AsyncWrite + Unpin>(mut rx: mpsc::Receiver<Bytes>, mut wr: W) -> Result<()> {
    while let Some(chunk) = rx.recv().await {
        wr.write_all(&chunk).await?;
    }
    Ok(())
}

/// "1 member", "3 members".
fn count_members(n: usize) -> String {
    format!("{n} member{}", if n == 1 { "" } else { "s" })
}

/// A hub member: what the hub sends goes to the client; what the client sends is relayed.
pub(crate) async fn member(conn: Conn, hub: Hub, relay: Relay) -> Result<()> {
    let id = conn.id;
    let (rx, members) = hub.join(id);
    if matches!(relay, Relay::Hub(_)) {
        info!(
            "{} joined the broker ({})",
            conn.peer,
            count_members(members)
        );
    }
    let (mut rd, wr) = tokio::io::split(conn.stream);
    let reader = async {
        loop {
            let chunk = read_chunk(&mut rd).await?;
            if chunk.is_empty() {
                return anyhow::Ok(());
            }
            match &relay {
                Relay::Hub(hub) => hub.publish(id, chunk).await,
                Relay::Stdout(Some(out)) => {
                    let _ = out.send(chunk).await;
                }
                Relay::Stdout(None) => {}
            }
        }
    };
    let result = tokio::select! {
        r = reader => r,
        r = deliver(rx, wr) => r,
    };
    hub.leave(id);
    result
}

/// `--chat`: lines are prefixed with `<userN>`; joins and leaves are announced.
pub(crate) async fn chat(conn: Conn, hub: Hub) -> Result<()> {
    let (id, peer) = (conn.id, conn.peer);
    let name = format!("<user{id}>");
    let present: Vec<String> = hub.ids().iter().map(|i| format!("<user{i}>")).collect();
    let (rx, members) = hub.join(id);
    info!(
        "{peer} joined the chat as {name} ({})",
        count_members(members)
    );
    let (mut rd, mut wr) = tokio::io::split(conn.stream);
    let listing = if present.is_empty() {
        "nobody".to_string()
    } else {
        present.join(", ")
    };
    wr.write_all(format!("<announce> you are {name}; already connected: {listing}.\n").as_bytes())
        .await?;
    hub.publish(
        id,
        Bytes::from(format!(
            "<announce> {} is connected as {name}.\n",
            peer.ip()
        )),
    )
    .await;
    let result = tokio::select! {
        r = chat_lines(&mut rd, &hub, id, &name) => r,
        r = deliver(rx, wr) => r,
    };
    hub.leave(id);
    hub.publish(
        id,
        Bytes::from(format!("<announce> {name} is disconnected.\n")),
    )
    .await;
    result
}

/// Relay each line the client sends (and a last unterminated one) as `name line`,
/// its control characters escaped (as ncat's chat does), so no member can clear
/// another's screen, set its title or forge a line.
async fn chat_lines<R: AsyncRead + Unpin>(
    rd: &mut R,
    hub: &Hub,
    id: u64,
    name: &str,
) -> Result<()> {
    let mut buf = BytesMut::new();
    loop {
        let chunk = read_chunk(rd).await?;
        let n = chunk.len();
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let line = buf.split_to(pos + 1);
            let line = line.strip_suffix(b"\n").unwrap_or(&line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = escape(line, Keep::Lines);
            hub.publish(id, Bytes::from(format!("{name} {text}\n")))
                .await;
        }
        if n == 0 {
            if !buf.is_empty() {
                let text = escape(&buf, Keep::Lines).into_owned();
                hub.publish(id, Bytes::from(format!("{name} {text}\n")))
                    .await;
            }
            return Ok(());
        }
    }
}
