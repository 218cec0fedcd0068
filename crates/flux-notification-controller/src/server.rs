//! The event server (`--events-addr`, Service `notification-controller`):
//! any path, a JSON event per request, `202 Accepted` once parsed
//! (delivery runs in the background), `429` for a duplicate within the
//! rate-limit interval, `400` for a body that is not an event, `413` for
//! one over 3 MiB.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

use crate::Context;
use crate::event::Event;
use crate::limiter;

/// The largest request body read.
pub const MAX_BODY: usize = 3 << 20;

fn status(code: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}

/// Reads a request body of at most [`MAX_BODY`] bytes.
pub(crate) async fn read_body(body: Body) -> Result<bytes::Bytes, Response> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.to_string().contains("length limit exceeded"))
            || e.to_string().contains("length limit exceeded");
        if too_large {
            status(StatusCode::PAYLOAD_TOO_LARGE)
        } else {
            status(StatusCode::BAD_REQUEST)
        }
    })
}

/// Handles one event request.
pub async fn handle_event(ctx: Arc<Context>, body: Body) -> Response {
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut event = match Event::parse(&body) {
        Ok(event) => event,
        Err(e) => {
            tracing::error!(error = %e, "decoding the request body failed");
            return status(StatusCode::BAD_REQUEST);
        }
    };
    event.clean_metadata();
    let key = if ctx.ignore_durations {
        let mut normalised = event.clone();
        normalised.message = limiter::without_durations(&event.message);
        normalised.rate_limit_key()
    } else {
        event.rate_limit_key()
    };
    let take = ctx.limiter.take(&key);
    let reset = limiter::rfc1123(take.reset);
    let limited = |mut response: Response| {
        let headers = response.headers_mut();
        let mut put = |name: &'static str, value: &str| {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        put("x-ratelimit-limit", "1");
        put("x-ratelimit-remaining", &take.remaining.to_string());
        put("x-ratelimit-reset", &reset);
        if !take.ok {
            put("retry-after", &reset);
        }
        response
    };
    if !take.ok {
        tracing::debug!(object = %event.object_string(), "Discarding event, rate limiting duplicate events");
        let mut response = Response::new(Body::from("Too Many Requests\n"));
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return limited(response);
    }
    event.exclude_internal_metadata();
    ctx.alerts_ready().await;
    let alerts = ctx.matching_alerts(&event).await;
    if alerts.is_empty() {
        tracing::info!(object = %event.object_string(), "discarding event, no alerts found for the involved object");
        return limited(status(StatusCode::ACCEPTED));
    }
    tracing::info!(object = %event.object_string(), message = %event.message, "dispatching event");
    for alert in &alerts {
        if let Err(e) = ctx.dispatch(&event, alert).await {
            tracing::error!(error = %e, "failed to dispatch notification");
            ctx.events
                .warning(
                    alert,
                    "NotificationDispatchFailed",
                    &format!(
                        "failed to dispatch notification for {}: {e}",
                        event.object_string()
                    ),
                )
                .await;
        }
    }
    limited(status(StatusCode::ACCEPTED))
}

/// Serves events on `listener` until it fails.
pub async fn serve_events(
    ctx: Arc<Context>,
    listener: tokio::net::TcpListener,
) -> Result<(), String> {
    let app = Router::new()
        .fallback(
            |State(ctx): State<Arc<Context>>, request: http::Request<Body>| async move {
                handle_event(ctx, request.into_body()).await
            },
        )
        .with_state(ctx);
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("event server: {e}"))
}
