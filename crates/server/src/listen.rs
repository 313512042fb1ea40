//! Accepting connections, HTTP or HTTPS, within bounds: at most
//! [`Limits::max_connections`] at once (past that a connection gets a 503 and is
//! closed), a TLS handshake and every request's headers within
//! [`Limits::header_timeout`] (hyper starts that clock whenever it waits for a request,
//! so an idle keep-alive connection closes after it too), and on shutdown the running
//! queries interrupted and the connections given [`Limits::shutdown_grace`] to finish.
//!
//! Written over hyper rather than `axum::serve`, which sets no timer (so no header or
//! idle timeout) and no connection limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// The bounds a server keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time to complete a TLS handshake, and to send a request's headers once the
    /// server waits for one (also how long an idle keep-alive connection stays).
    pub header_timeout: Duration,
    /// Time a search or aggregation may run in the store.
    pub query_timeout: Duration,
    /// Time given to open connections to finish when the server stops.
    pub shutdown_grace: Duration,
    /// Sessions the SPI view, SPI graph and connections count exactly: over a store of
    /// more than four times as many they estimate from a sample of about this many and
    /// say so.
    pub sample_above: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(20),
            query_timeout: crate::stores::DEFAULT_QUERY_TIMEOUT,
            shutdown_grace: Duration::from_secs(5),
            sample_above: tyto_store::SAMPLE_ABOVE,
        }
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-type: application/json\r\n\
content-length: 52\r\n\r\n{\"error\":\"too many connections; try again shortly\"}\n";

/// Serves `app` on `listener` (with TLS when `tls` is given) until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    limits: Limits,
    on_shutdown: impl FnOnce() + Send,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let mut s = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), s.write_all(BUSY)).await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = app.clone().map_request(move |mut req: axum::extract::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let svc = hyper_util::service::TowerToHyperService::new(svc);
        let tls = tls.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => {
                    let _ = watcher.watch(builder.serve_connection(TokioIo::new(stream), svc)).await;
                }
                Some(acceptor) => match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls_stream)) => {
                        let _ = watcher.watch(builder.serve_connection(TokioIo::new(tls_stream), svc)).await;
                    }
                    Ok(Err(e)) => tracing::debug!("TLS handshake with {peer}: {e}"),
                    Err(_) => tracing::debug!("TLS handshake with {peer}: timed out"),
                },
            }
        });
    }
    drop(listener);
    on_shutdown();
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {:?}; closing them", limits.shutdown_grace);
    }
    Ok(())
}

/// An address and the name used in messages.
pub fn describe(addr: SocketAddr, tls: bool) -> String {
    format!("{}://{addr}/", if tls { "https" } else { "http" })
}
