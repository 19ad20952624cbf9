//! The functions' AWS configuration (`adapters::aws::sdk_config`), built from the environment
//! Lambda gives a function rather than by the SDK's loader: requests are signed with the role's
//! credentials from the environment (session token included), go to `AWS_ENDPOINT_URL`, and
//! are retried as the SDK's standard retries do (3 attempts), which the loader used to set.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn a_function_signs_with_the_environments_credentials_and_retries_as_the_sdk_does() {
    // A DynamoDB stand-in: two 500s, then ListTables' answer; it keeps each request's headers.
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let recorded = seen.clone();
    let app = Router::new().route(
        "/",
        post(move |headers: HeaderMap| {
            let recorded = recorded.clone();
            async move {
                let attempt = {
                    let mut seen = recorded.lock().unwrap();
                    seen.push(headers);
                    seen.len()
                };
                if attempt <= 2 {
                    (StatusCode::INTERNAL_SERVER_ERROR, r#"{"__type":"InternalServerError"}"#)
                } else {
                    (StatusCode::OK, r#"{"TableNames":["ppx"]}"#)
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // What Lambda sets (and a local endpoint); nothing else of the process reads them.
    for (name, value) in [
        ("AWS_ACCESS_KEY_ID", "ASIAFUNCTIONROLE"),
        ("AWS_SECRET_ACCESS_KEY", "function-role-secret"),
        ("AWS_SESSION_TOKEN", "function-role-session-token"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ENDPOINT_URL", url.as_str()),
    ] {
        // SAFETY: this test binary has this one test, and no other thread reads the environment yet.
        unsafe { std::env::set_var(name, value) };
    }
    let sdk = ppx_shared::adapters::aws::sdk_config().await.unwrap();
    assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
    let tables = aws_sdk_dynamodb::Client::new(&sdk).list_tables().send().await.unwrap();
    assert_eq!(tables.table_names(), ["ppx"]);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "the SDK's standard retries: 3 attempts");
    for headers in seen.iter() {
        let authorization = headers["authorization"].to_str().unwrap();
        assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=ASIAFUNCTIONROLE/"), "{authorization}");
        assert!(authorization.contains("/eu-west-1/dynamodb/aws4_request"), "{authorization}");
        assert_eq!(headers["x-amz-security-token"], "function-role-session-token");
    }
}
