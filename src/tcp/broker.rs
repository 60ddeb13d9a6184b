//! Clients of one listener that hear each other: `--broker` relays bytes,
//! `--chat` relays lines with `<userN>` names and announces joins and leaves;
//! in `-k` pipe mode every client hears stdin.

use crate::net::Conn;
use crate::net::stream::read_chunk;
use crate::text::{Keep, escape};
use anyhow::Result;
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

/// Chunks queued for one member before a publisher waits for it.
const QUEUE: usize = 64;

/// How long a broker or chat waits for a member whose queue is full before it
/// drops that member, so one client that stops reading cannot freeze the others
/// (ncat freezes them for good).
pub(crate) const STALL_LIMIT: Duration = Duration::from_secs(2);

/// One member: its queue, its address, and how to tell its connection it was dropped.
struct Member {
    tx: mpsc::Sender<Bytes>,
    peer: Option<SocketAddr>,
    kick: Option<oneshot::Sender<()>>,
}

/// The members of one listener, each with the queue of what it is to hear.
#[derive(Clone, Default)]
pub(crate) struct Hub {
    members: Arc<Mutex<HashMap<u64, Member>>>,
    /// Drop a member whose queue stays full this long (`None`: wait for it).
    stall_limit: Option<Duration>,
}

impl Hub {
    /// A hub that drops members whose queue stays full for `limit` (broker, chat).
    pub(crate) fn dropping_stalled(limit: Duration) -> Hub {
        Hub {
            members: Arc::default(),
            stall_limit: Some(limit),
        }
    }

    /// Add member `id`; its queue, what fires when it is dropped, and the number of members now.
    fn join(
        &self,
        id: u64,
        peer: Option<SocketAddr>,
    ) -> (mpsc::Receiver<Bytes>, oneshot::Receiver<()>, usize) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (kick, kicked) = oneshot::channel();
        let mut n = 0;
        if let Ok(mut m) = self.members.lock() {
            m.insert(
                id,
                Member {
                    tx,
                    peer,
                    kick: Some(kick),
                },
            );
            n = m.len();
        }
        (rx, kicked, n)
    }

    /// Remove member `id` because it stopped reading, and end its connection.
    fn drop_stalled(&self, id: u64, limit: Duration) {
        let gone = self.members.lock().ok().and_then(|mut m| m.remove(&id));
        if let Some(mut member) = gone {
            let who = member
                .peer
                .map_or_else(|| format!("member {id}"), |p| p.to_string());
            warn!(
                "dropped {who}: it fell behind by more than {QUEUE} chunks for {limit:?} (stopped reading?); the others go on"
            );
            if let Some(kick) = member.kick.take() {
                let _ = kick.send(());
            }
        }
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

    /// Send to every member but `from`, in order. A slow member is waited for;
    /// with a stall limit, one whose queue stays full that long is dropped.
    pub(crate) async fn publish(&self, from: u64, data: Bytes) {
        let targets: Vec<(u64, mpsc::Sender<Bytes>)> = self
            .members
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(id, _)| **id != from)
                    .map(|(id, member)| (*id, member.tx.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for (id, tx) in targets {
            match self.stall_limit {
                None => {
                    let _ = tx.send(data.clone()).await;
                }
                Some(limit) => {
                    if let Err(mpsc::error::SendTimeoutError::Timeout(_)) =
                        tx.send_timeout(data.clone(), limit).await
                    {
                        self.drop_stalled(id, limit);
                    }
                }
            }
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
    let (rx, kicked, members) = hub.join(id, Some(conn.peer));
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
        _ = kicked => Ok(()), // dropped for not reading (logged)
    };
    hub.leave(id);
    result
}

/// `--chat`: lines are prefixed with `<userN>`; joins and leaves are announced.
pub(crate) async fn chat(conn: Conn, hub: Hub) -> Result<()> {
    let (id, peer) = (conn.id, conn.peer);
    let name = format!("<user{id}>");
    let present: Vec<String> = hub.ids().iter().map(|i| format!("<user{i}>")).collect();
    let (rx, kicked, members) = hub.join(id, Some(peer));
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
        _ = kicked => Ok(()), // dropped for not reading (logged)
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
