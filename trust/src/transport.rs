//! How a signed call reaches a service: over the network (a tonic channel, mutual TLS), or, when
//! both ends run in one process (`dtr up`), straight into the service's guarded tower stack —
//! the same generated clients, the same signing interceptor, the same guard checking the same
//! token, without loopback TCP, TLS or HTTP/2 framing.
//!
//! In process there is no peer certificate: the guard admits a call on its token alone (its
//! signature names the part that minted it), which is what the certificate would have told it.
//! A network deadline is enforced by tonic's channel; an in-process call's deadline (its
//! `grpc-timeout`) is enforced here.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tonic::body::Body;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A service's whole gRPC surface in this process (its guarded service and its health).
pub type LocalService = tower::util::BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// The three services of one process, for a gateway in the same process.
#[derive(Clone)]
pub struct LocalServices {
    pub import: LocalService,
    pub export: LocalService,
    pub tilslutning: LocalService,
}

impl std::fmt::Debug for LocalServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalServices(import, export, tilslutning)")
    }
}

#[derive(Clone)]
pub enum Transport {
    Net(tonic::transport::Channel),
    Local(LocalService),
}

impl tower::Service<http::Request<Body>> for Transport {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<http::Response<Body>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Transport::Net(c) => c.poll_ready(cx).map_err(Into::into),
            Transport::Local(s) => s.poll_ready(cx).map_err(|never| match never {}),
        }
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match self {
            Transport::Net(c) => c.call(req).map(|r| r.map_err(Into::into)).boxed(),
            Transport::Local(s) => {
                let deadline = req.headers().get("grpc-timeout").and_then(|v| v.to_str().ok()).and_then(grpc_timeout);
                let call = s.call(req);
                async move {
                    let answer = match deadline {
                        Some(d) => match tokio::time::timeout(d, call).await {
                            Ok(r) => r,
                            Err(_) => Ok(tonic::Status::deadline_exceeded("Timeout expired").into_http()),
                        },
                        None => call.await,
                    };
                    answer.map_err(|never| match never {})
                }
                .boxed()
            }
        }
    }
}

/// A `grpc-timeout` header value (`<digits><unit>`, unit one of H M S m u n).
fn grpc_timeout(v: &str) -> Option<Duration> {
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_grpc_timeouts() {
        assert_eq!(grpc_timeout("5000m"), Some(Duration::from_secs(5)));
        assert_eq!(grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(grpc_timeout("x"), None);
        assert_eq!(grpc_timeout(""), None);
        assert_eq!(grpc_timeout("12"), None);
    }
}
