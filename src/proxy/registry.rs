//! The proxies of one process by name: added, changed, enabled, disabled and
//! removed while they run (what `--config` fills and the control API drives).
//! Errors carry Toxiproxy's status codes and messages.

use super::{BoundProxy, Event, LiveToxics, ProxyConfig, ProxyOptions, Toxic, config};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

/// A failure with the HTTP status Toxiproxy gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// 400, 404, 409 or 500.
    pub status: u16,
    /// Toxiproxy's message, and what exactly was wrong.
    pub message: String,
}

impl ApiError {
    fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request body is not what the route takes.
    pub(crate) fn bad(e: &anyhow::Error) -> ApiError {
        ApiError::new(400, crate::error::one_line(e))
    }

    /// Toxiproxy's JSON error shape: `{"error": ..., "status": ...}`.
    pub fn to_json(&self) -> Value {
        json!({"error": self.message, "status": self.status})
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

fn proxy_not_found(name: &str) -> ApiError {
    ApiError::new(404, format!("proxy not found: {name}"))
}

fn toxic_not_found(name: &str) -> ApiError {
    ApiError::new(404, format!("toxic not found: {name}"))
}

/// One named proxy: its settings, its live toxics, and its task while enabled.
struct Entry {
    config: ProxyConfig,
    toxics: LiveToxics,
    running: Option<(SocketAddr, JoinHandle<()>)>,
}

impl Entry {
    fn to_json(&self) -> Value {
        let listen = self
            .running
            .as_ref()
            .map_or_else(|| self.config.listen.to_string(), |(a, _)| a.to_string());
        json!({
            "name": self.config.name,
            "listen": listen,
            "upstream": self.config.upstream.to_string(),
            "enabled": self.running.is_some(),
            "toxics": self.toxics.list().iter().map(Toxic::to_json).collect::<Vec<_>>(),
        })
    }

    /// Stop listening and drop every open connection (Toxiproxy's disable);
    /// the port is closed when this returns, so the API's answer is true.
    async fn stop(&mut self) {
        if let Some((_, task)) = self.running.take() {
            task.abort();
            let _ = task.await; // cancelled: its listener and connections are dropped
        }
    }
}

/// Every proxy of the process.
pub struct Registry {
    proxies: Mutex<BTreeMap<String, Entry>>,
    options: ProxyOptions,
    events: Option<mpsc::Sender<Event>>,
}

impl Registry {
    /// An empty registry whose proxies listen, connect and record as `options` say.
    pub fn new(options: ProxyOptions, events: Option<mpsc::Sender<Event>>) -> Registry {
        Registry {
            proxies: Mutex::new(BTreeMap::new()),
            options,
            events,
        }
    }

    /// Bind and start `entry`'s proxy; the address it listens on.
    async fn start(&self, entry: &mut Entry) -> Result<SocketAddr, ApiError> {
        if let Some((addr, _)) = &entry.running {
            return Ok(*addr);
        }
        let bound = BoundProxy::bind_with(
            &entry.config,
            &self.options,
            self.events.clone(),
            entry.toxics.clone(),
        )
        .await
        .map_err(|e| {
            ApiError::new(
                500,
                format!(
                    "proxy {}: {}",
                    entry.config.name,
                    crate::error::one_line(&e)
                ),
            )
        })?;
        let addr = bound.local_addr();
        let name = entry.config.name.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = bound.run().await {
                tracing::warn!("proxy {name}: {}", crate::error::one_line(&e));
            }
        });
        entry.running = Some((addr, task));
        Ok(addr)
    }

    /// Add a proxy (started when enabled); its JSON. 409 when the name is taken.
    pub async fn add(&self, config: ProxyConfig) -> Result<Value, ApiError> {
        let mut proxies = self.proxies.lock().await;
        if proxies.contains_key(&config.name) {
            return Err(ApiError::new(
                409,
                format!("proxy already exists: {}", config.name),
            ));
        }
        let toxics = LiveToxics::new(config.toxics.clone()).map_err(|e| ApiError::bad(&e))?;
        let mut entry = Entry {
            config,
            toxics,
            running: None,
        };
        if entry.config.enabled {
            self.start(&mut entry).await?;
        }
        let value = entry.to_json();
        proxies.insert(entry.config.name.clone(), entry);
        Ok(value)
    }

    /// The address a proxy listens on, while it is enabled.
    pub async fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        let proxies = self.proxies.lock().await;
        proxies.get(name)?.running.as_ref().map(|(a, _)| *a)
    }

    /// Every proxy by name (`GET /proxies`).
    pub async fn list(&self) -> Value {
        let proxies = self.proxies.lock().await;
        Value::Object(
            proxies
                .iter()
                .map(|(name, e)| (name.clone(), e.to_json()))
                .collect(),
        )
    }

    /// One proxy (`GET /proxies/{name}`).
    pub async fn get(&self, name: &str) -> Result<Value, ApiError> {
        let proxies = self.proxies.lock().await;
        proxies
            .get(name)
            .map(Entry::to_json)
            .ok_or_else(|| proxy_not_found(name))
    }

    /// Change a proxy's `listen`, `upstream` or `enabled` (`PATCH /proxies/{name}`).
    pub async fn update(&self, name: &str, body: &Value) -> Result<Value, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let entry = proxies.get_mut(name).ok_or_else(|| proxy_not_found(name))?;
        let obj = body
            .as_object()
            .ok_or_else(|| ApiError::new(400, "bad request body: expected a JSON object"))?;
        let mut changed = entry.config.clone();
        let addr = |key: &str| -> Result<Option<crate::net::HostPort>, ApiError> {
            match obj.get(key).and_then(Value::as_str) {
                Some(text) if !text.is_empty() => crate::net::HostPort::parse(text, None)
                    .map(Some)
                    .map_err(|e| ApiError::bad(&e)),
                _ => Ok(None),
            }
        };
        if let Some(listen) = addr("listen")? {
            changed.listen = listen;
        }
        if let Some(upstream) = addr("upstream")? {
            changed.upstream = upstream;
        }
        let enabled = match obj.get("enabled") {
            None | Some(Value::Null) => entry.running.is_some(),
            Some(v) => v.as_bool().ok_or_else(|| {
                ApiError::new(400, "bad request body: enabled must be true or false")
            })?,
        };
        let moved =
            changed.listen != entry.config.listen || changed.upstream != entry.config.upstream;
        entry.config = changed;
        entry.config.enabled = enabled;
        if moved || !enabled {
            entry.stop().await;
        }
        if enabled {
            self.start(entry).await?;
        }
        Ok(entry.to_json())
    }

    /// Stop and forget a proxy (`DELETE /proxies/{name}`).
    pub async fn remove(&self, name: &str) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        let mut entry = proxies.remove(name).ok_or_else(|| proxy_not_found(name))?;
        entry.stop().await;
        Ok(())
    }

    /// Create or replace proxies from populate JSON (`POST /populate`): a proxy
    /// whose listen address or upstream changed is replaced; the rest are kept.
    pub async fn populate(&self, body: &Value) -> Result<Value, ApiError> {
        let list = match body {
            Value::Array(a) => a.clone(),
            Value::Object(o) => o
                .get("proxies")
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| {
                    ApiError::new(400, "bad request body: expected an array of proxies")
                })?,
            _ => {
                return Err(ApiError::new(
                    400,
                    "bad request body: expected an array of proxies",
                ));
            }
        };
        let configs = list
            .iter()
            .map(config::proxy)
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(|e| ApiError::bad(&e))?;
        let mut out = Vec::new();
        for c in configs {
            let same = {
                let proxies = self.proxies.lock().await;
                proxies.get(&c.name).map(|e| {
                    e.config.upstream == c.upstream
                        && (e.config.listen == c.listen
                            || e.running
                                .as_ref()
                                .is_some_and(|(a, _)| a.to_string() == c.listen.to_string()))
                })
            };
            match same {
                Some(true) => out.push(self.get(&c.name).await?),
                Some(false) => {
                    self.remove(&c.name).await?;
                    out.push(self.add(c).await?);
                }
                None => out.push(self.add(c).await?),
            }
        }
        Ok(json!({ "proxies": out }))
    }

    /// Enable every proxy and remove every toxic (`POST /reset`).
    pub async fn reset(&self) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        for entry in proxies.values_mut() {
            let _ = entry.toxics.set(Vec::new());
            entry.config.enabled = true;
            self.start(entry).await?;
        }
        Ok(())
    }

    /// A proxy's toxics (`GET /proxies/{name}/toxics`).
    pub async fn toxics(&self, proxy: &str) -> Result<Value, ApiError> {
        let proxies = self.proxies.lock().await;
        let entry = proxies.get(proxy).ok_or_else(|| proxy_not_found(proxy))?;
        Ok(Value::Array(
            entry.toxics.list().iter().map(Toxic::to_json).collect(),
        ))
    }

    /// One toxic (`GET /proxies/{name}/toxics/{toxic}`).
    pub async fn toxic(&self, proxy: &str, toxic: &str) -> Result<Value, ApiError> {
        let proxies = self.proxies.lock().await;
        let entry = proxies.get(proxy).ok_or_else(|| proxy_not_found(proxy))?;
        let list = entry.toxics.list();
        list.iter()
            .find(|t| t.name == toxic)
            .map(Toxic::to_json)
            .ok_or_else(|| toxic_not_found(toxic))
    }

    /// Add a toxic, acting on open connections too (`POST /proxies/{name}/toxics`).
    pub async fn add_toxic(&self, proxy: &str, body: &Value) -> Result<Value, ApiError> {
        let proxies = self.proxies.lock().await;
        let entry = proxies.get(proxy).ok_or_else(|| proxy_not_found(proxy))?;
        let toxic = Toxic::from_json(body).map_err(|e| ApiError::bad(&e))?;
        let mut list = entry.toxics.list().as_ref().clone();
        if list.iter().any(|t| t.name == toxic.name) {
            return Err(ApiError::new(
                409,
                format!("toxic already exists: {}", toxic.name),
            ));
        }
        let value = toxic.to_json();
        list.push(toxic);
        entry.toxics.set(list).map_err(|e| ApiError::bad(&e))?;
        Ok(value)
    }

    /// Change a toxic's attributes or toxicity (`PATCH /proxies/{name}/toxics/{toxic}`).
    pub async fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let proxies = self.proxies.lock().await;
        let entry = proxies.get(proxy).ok_or_else(|| proxy_not_found(proxy))?;
        let mut list = entry.toxics.list().as_ref().clone();
        let slot = list
            .iter_mut()
            .find(|t| t.name == name)
            .ok_or_else(|| toxic_not_found(name))?;
        let patch = body
            .as_object()
            .ok_or_else(|| ApiError::new(400, "bad request body: expected a JSON object"))?;
        let mut merged = slot.to_json();
        if let Some(t) = patch.get("toxicity") {
            merged["toxicity"] = t.clone();
        }
        if let Some(Value::Object(attrs)) = patch.get("attributes") {
            for (k, v) in attrs {
                merged["attributes"][k] = v.clone();
            }
        } else if let Some(bad) = patch.get("attributes").filter(|v| !v.is_null()) {
            return Err(ApiError::new(
                400,
                format!("bad request body: attributes must be an object, not {bad}"),
            ));
        }
        *slot = Toxic::from_json(&merged).map_err(|e| ApiError::bad(&e))?;
        let value = slot.to_json();
        entry.toxics.set(list).map_err(|e| ApiError::bad(&e))?;
        Ok(value)
    }

    /// Remove a toxic (`DELETE /proxies/{name}/toxics/{toxic}`).
    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), ApiError> {
        let proxies = self.proxies.lock().await;
        let entry = proxies.get(proxy).ok_or_else(|| proxy_not_found(proxy))?;
        let mut list = entry.toxics.list().as_ref().clone();
        let before = list.len();
        list.retain(|t| t.name != name);
        if list.len() == before {
            return Err(toxic_not_found(name));
        }
        entry.toxics.set(list).map_err(|e| ApiError::bad(&e))?;
        Ok(())
    }

    /// Wait for every running proxy to finish (they stop on SIGINT/SIGTERM,
    /// letting open connections finish for the shutdown timeout).
    pub async fn wait(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut proxies = self.proxies.lock().await;
            proxies
                .values_mut()
                .filter_map(|e| e.running.take().map(|(_, t)| t))
                .collect()
        };
        for t in tasks {
            let _ = t.await;
        }
    }
}
