//! The control API, compatible with Toxiproxy's (routes, JSON shapes, status
//! codes), so Toxiproxy client libraries drive wirekit unchanged. HTTP/1.1 on
//! hyper, on the shared listener.

use super::registry::{ApiError, Registry};
use crate::net::Listener;
use anyhow::Result;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::sync::Arc;

/// The version `GET /version` reports.
pub const VERSION: &str = concat!("wirekit-", env!("CARGO_PKG_VERSION"));

/// Largest request body the API reads.
const MAX_BODY: usize = 1 << 20;

/// Serve the API on `listener` until SIGINT/SIGTERM.
pub async fn serve(listener: Listener, registry: Arc<Registry>) -> Result<()> {
    listener
        .nodelay(true)
        .run(false, move |conn| {
            let registry = registry.clone();
            async move {
                let service = hyper::service::service_fn(move |req| {
                    let registry = registry.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(&registry, req).await) }
                });
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(conn.stream), service)
                    .await
                    .map_err(|e| anyhow::anyhow!("API connection: {e}"))
            }
        })
        .await
}

/// A JSON answer.
fn json(status: u16, value: &Value) -> Response<Full<Bytes>> {
    let mut body = value.to_string();
    body.push('\n');
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// 204 No Content.
fn empty() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

fn error(e: &ApiError) -> Response<Full<Bytes>> {
    json(e.status, &e.to_json())
}

/// The request body as JSON (400 when it is not).
async fn body(req: Request<Incoming>) -> Result<Value, ApiError> {
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError {
            status: 400,
            message: format!("bad request body: {e}"),
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| ApiError {
        status: 400,
        message: format!("bad request body: {e}"),
    })
}

/// Route one request.
async fn handle(registry: &Registry, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let parts: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let method = req.method().clone();
    let update = method == Method::POST || method == Method::PATCH;
    let result: Result<Response<Full<Bytes>>, ApiError> = async {
        Ok(match (&method, parts.as_slice()) {
            (&Method::GET, ["version"]) => json(200, &serde_json::json!({ "version": VERSION })),
            (&Method::POST, ["reset"]) => {
                registry.reset().await?;
                empty()
            }
            (&Method::GET, ["proxies"]) => json(200, &registry.list().await),
            (&Method::POST, ["proxies"]) => {
                let value = body(req).await?;
                let mut config = super::config::proxy(&value).map_err(|e| {
                    let text = crate::error::one_line(&e);
                    ApiError {
                        status: 400,
                        message: if text.contains("missing field") {
                            format!("missing required field: {text}")
                        } else {
                            format!("bad request body: {text}")
                        },
                    }
                })?;
                config.toxics.clear(); // Toxiproxy's create takes no toxics
                json(201, &registry.add(config).await?)
            }
            (&Method::POST, ["populate"]) => {
                let value = body(req).await?;
                json(201, &registry.populate(&value).await?)
            }
            (&Method::GET, ["proxies", name]) => json(200, &registry.get(name).await?),
            (_, ["proxies", name]) if update => {
                let value = body(req).await?;
                json(200, &registry.update(name, &value).await?)
            }
            (&Method::DELETE, ["proxies", name]) => {
                registry.remove(name).await?;
                empty()
            }
            (&Method::GET, ["proxies", name, "toxics"]) => json(200, &registry.toxics(name).await?),
            (&Method::POST, ["proxies", name, "toxics"]) => {
                registry.get(name).await?; // 404 before 400, as Toxiproxy
                let value = body(req).await?;
                json(200, &registry.add_toxic(name, &value).await?)
            }
            (&Method::GET, ["proxies", name, "toxics", toxic]) => {
                json(200, &registry.toxic(name, toxic).await?)
            }
            (_, ["proxies", name, "toxics", toxic]) if update => {
                registry.toxic(name, toxic).await?;
                let value = body(req).await?;
                json(200, &registry.update_toxic(name, toxic, &value).await?)
            }
            (&Method::DELETE, ["proxies", name, "toxics", toxic]) => {
                registry.remove_toxic(name, toxic).await?;
                empty()
            }
            _ => {
                return Err(ApiError {
                    status: 404,
                    message: format!("no route {method} {path}; see Toxiproxy's API (GET /proxies, POST /proxies, ...)"),
                });
            }
        })
    }
    .await;
    result.unwrap_or_else(|e| error(&e))
}
