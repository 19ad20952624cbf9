//! Running an HTTP function on Lambda: API Gateway events in, the handler's `http` types out.

use bytes::Bytes;
use lambda_http::{Body, Error, IntoResponse, Request, RequestExt, service_fn};
use std::future::{Future, ready};

/// Serves `handle(request, request_id)` on the Lambda runtime until the sandbox is shut down.
pub async fn run_http<F, Fut>(handle: F) -> Result<(), Error>
where
    F: Fn(http::Request<Bytes>, String) -> Fut + Sync,
    Fut: Future<Output = http::Response<String>> + Send,
{
    let handle = &handle;
    lambda_http::run(service_fn(move |event: Request| async move {
        let request_id = event.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
        let (parts, body) = event.into_parts();
        // API Gateway has already decoded base64 bodies; the bytes are what the sender signed.
        let body = match body {
            Body::Text(text) => Bytes::from(text),
            Body::Binary(bytes) => Bytes::from(bytes),
            _ => Bytes::new(),
        };
        let response = handle(http::Request::from_parts(parts, body), request_id).await;
        Ok::<_, Error>(TextResponse(response.map(Body::from)))
    }))
    .await
}

/// A response whose body is already UTF-8 text. lambda_http's own `IntoResponse` for
/// `Response<B>` collects the body again and decodes it by its charset, which links
/// encoding_rs (about 150 KB of tables per function) to decode what is already a `String`.
struct TextResponse(http::Response<Body>);

impl IntoResponse for TextResponse {
    fn into_response(self) -> std::pin::Pin<Box<dyn Future<Output = http::Response<Body>> + Send>> {
        Box::pin(ready(self.0))
    }
}
