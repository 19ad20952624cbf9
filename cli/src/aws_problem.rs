//! Why the command line could not use AWS, in one sentence an operator can act on (what is
//! wrong, what to do), instead of the SDK's error chain.
//!
//! The store reports every AWS failure as [`StoreError::Unavailable`] with the SDK's text: right
//! for the functions (5xx, the platform retries), useless to someone at a terminal. So when a
//! command fails that way, [`diagnose`] asks DynamoDB about the table (one `DescribeTable`, only
//! after a failure) and [`classify`] maps the SDK's typed error of that request.
//!
//! [`StoreError::Unavailable`]: ppx_shared::ports::store::StoreError::Unavailable

use aws_credential_types::provider::error::CredentialsError;
use ppx_shared::aws_sdk_dynamodb;
use ppx_shared::aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use ppx_shared::aws_sdk_dynamodb::operation::describe_table::DescribeTableError;

/// What the advice says to run for local AWS.
const LOCAL_ENV: &str = "eval \"$(scripts/local-aws.sh env)\"";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsProblem {
    #[error("table {table} does not exist on {endpoint}; run `ppx init` or set PPX_TABLE")]
    TableMissing { table: String, endpoint: String },
    #[error(
        "no AWS credentials could be loaded for {endpoint}; for local AWS run `{LOCAL_ENV}`, \
         else set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    NoCredentials { endpoint: String },
    #[error(
        "{endpoint} refused the AWS credentials ({code}); check AWS_PROFILE or AWS_ACCESS_KEY_ID, \
         AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"
    )]
    CredentialsRefused { endpoint: String, code: String },
    #[error("the AWS credentials may not use table {table} on {endpoint} ({code}); use an identity that may")]
    AccessDenied { table: String, endpoint: String, code: String },
    #[error("no AWS region is set; set AWS_REGION (for local AWS run `{LOCAL_ENV}`)")]
    NoRegion,
    #[error(
        "nothing answers on {endpoint}; start local AWS with `scripts/local-aws.sh start` \
         (the same PPX_MOTO_PORT) or check AWS_ENDPOINT_URL"
    )]
    Unreachable { endpoint: String },
}

/// Where the command line talks to: the table and the endpoint, as the sentences name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub table: String,
    pub endpoint: String,
}

impl Target {
    /// The endpoint is `AWS_ENDPOINT_URL` when set (local AWS), else DynamoDB in the region.
    pub fn of(sdk: &ppx_shared::adapters::aws::SdkConfig, table: &str) -> Self {
        let endpoint = match (sdk.endpoint_url(), sdk.region()) {
            (Some(url), _) => url.to_owned(),
            (None, Some(region)) => format!("DynamoDB in {region}"),
            (None, None) => "DynamoDB".to_owned(),
        };
        Self { table: table.to_owned(), endpoint }
    }
}

/// DynamoDB's error codes for credentials it does not accept (a missing region or unreadable
/// credentials never reach it: those fail in the SDK, before the request is sent).
const REFUSED_CREDENTIALS: [&str; 5] = [
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
];

/// The problem a failed `DescribeTable` of the table shows, when it is one an operator can fix;
/// `None` otherwise (the caller keeps the original error).
pub fn classify<R>(err: &SdkError<DescribeTableError, R>, target: &Target) -> Option<AwsProblem>
where
    R: std::fmt::Debug + 'static,
{
    let endpoint = || target.endpoint.clone();
    match err {
        SdkError::ServiceError(context) => {
            if let DescribeTableError::ResourceNotFoundException(_) = context.err() {
                return Some(AwsProblem::TableMissing { table: target.table.clone(), endpoint: endpoint() });
            }
            // Credentials and permissions are not modelled per operation: their codes are AWS's.
            let code = context.err().code()?;
            if REFUSED_CREDENTIALS.contains(&code) {
                Some(AwsProblem::CredentialsRefused { endpoint: endpoint(), code: code.to_owned() })
            } else if code == "AccessDeniedException" {
                Some(AwsProblem::AccessDenied {
                    table: target.table.clone(),
                    endpoint: endpoint(),
                    code: code.to_owned(),
                })
            } else {
                None
            }
        }
        SdkError::TimeoutError(_) => Some(AwsProblem::Unreachable { endpoint: endpoint() }),
        SdkError::DispatchFailure(failure) => {
            if caused_by::<CredentialsError>(err) {
                Some(AwsProblem::NoCredentials { endpoint: endpoint() })
            } else if failure.is_io() || failure.is_timeout() {
                Some(AwsProblem::Unreachable { endpoint: endpoint() })
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Whether an error of type `T` is somewhere in `err`'s chain of sources.
fn caused_by<T: std::error::Error + 'static>(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(current) = next {
        if current.is::<T>() {
            return true;
        }
        next = current.source();
    }
    false
}

/// Asks DynamoDB about the table after a command failed: the problem it shows, or `None` when
/// the table answers (then the command's own error stands).
pub async fn diagnose(client: &aws_sdk_dynamodb::Client, target: &Target) -> Option<AwsProblem> {
    match client.describe_table().table_name(&target.table).send().await {
        Ok(_) => None,
        Err(err) => classify(&err, target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_dynamodb::error::ConnectorError;
    use aws_sdk_dynamodb::types::error::ResourceNotFoundException;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn target() -> Target {
        Target { table: "ppx-demo".into(), endpoint: "http://127.0.0.1:4599".into() }
    }

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::empty())
    }

    fn service_error(code: &str) -> SdkError<DescribeTableError, HttpResponse> {
        let error = DescribeTableError::generic(ErrorMetadata::builder().code(code).message("from AWS").build());
        SdkError::service_error(error, response(400))
    }

    #[test]
    fn a_missing_table_says_which_where_and_what_to_do() {
        let missing = ResourceNotFoundException::builder().message("Requested resource not found").build();
        let err = SdkError::service_error(DescribeTableError::ResourceNotFoundException(missing), response(400));
        let problem = classify(&err, &target()).unwrap();
        assert_eq!(
            problem.to_string(),
            "table ppx-demo does not exist on http://127.0.0.1:4599; run `ppx init` or set PPX_TABLE"
        );
    }

    #[test]
    fn credentials_the_sdk_cannot_load_or_aws_refuses_are_told_apart() {
        let not_loaded = CredentialsError::not_loaded("no providers in chain provided credentials");
        let err: SdkError<DescribeTableError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(not_loaded), None));
        assert_eq!(classify(&err, &target()), Some(AwsProblem::NoCredentials { endpoint: target().endpoint }));
        let imds = CredentialsError::provider_error("IMDS is disabled");
        let err: SdkError<DescribeTableError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(imds), None));
        assert!(matches!(classify(&err, &target()), Some(AwsProblem::NoCredentials { .. })));

        for code in REFUSED_CREDENTIALS {
            let problem = classify(&service_error(code), &target()).unwrap();
            assert_eq!(problem, AwsProblem::CredentialsRefused { endpoint: target().endpoint, code: code.into() });
        }
        let denied = classify(&service_error("AccessDeniedException"), &target()).unwrap();
        assert!(denied.to_string().starts_with("the AWS credentials may not use table ppx-demo on "), "{denied}");
    }

    #[test]
    fn an_endpoint_that_does_not_answer_is_unreachable() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err: SdkError<DescribeTableError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        let problem = classify(&err, &target()).unwrap();
        assert!(problem.to_string().starts_with("nothing answers on http://127.0.0.1:4599; "), "{problem}");
        let err: SdkError<DescribeTableError, HttpResponse> = SdkError::timeout_error("read timed out");
        assert!(matches!(classify(&err, &target()), Some(AwsProblem::Unreachable { .. })));
    }

    #[test]
    fn other_errors_are_left_to_the_caller() {
        assert_eq!(classify(&service_error("ProvisionedThroughputExceededException"), &target()), None);
        assert_eq!(classify(&service_error("InternalServerError"), &target()), None);
        let err: SdkError<DescribeTableError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other("some other failure".into(), None));
        assert_eq!(classify(&err, &target()), None);
    }

    #[test]
    fn every_sentence_is_one_line() {
        let problems = [
            AwsProblem::TableMissing { table: "t".into(), endpoint: "e".into() },
            AwsProblem::NoCredentials { endpoint: "e".into() },
            AwsProblem::CredentialsRefused { endpoint: "e".into(), code: "c".into() },
            AwsProblem::AccessDenied { table: "t".into(), endpoint: "e".into(), code: "c".into() },
            AwsProblem::NoRegion,
            AwsProblem::Unreachable { endpoint: "e".into() },
        ];
        for problem in problems {
            let sentence = problem.to_string();
            assert!(!sentence.contains('\n') && !sentence.contains("  "), "{sentence:?}");
        }
    }
}
