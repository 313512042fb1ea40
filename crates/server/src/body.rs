//! Response bodies written on a blocking thread (CSV, PCAP, a sensor's packets)
//! while the client reads them.

use axum::body::Body;

/// Sends `chunks` produced on a blocking thread as a response body. The channel is
/// small, so a slow client slows the producer instead of filling memory; a client
/// that goes away ends the producer at its next send.
pub fn stream_body<F>(produce: F) -> Body
where
    F: FnOnce(&tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>) + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || produce(&tx));
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) }))
}
