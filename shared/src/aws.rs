//! Loading the AWS SDK configuration once per cold start. Honours the standard environment
//! (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` for a local endpoint such as moto).

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

pub use aws_config::SdkConfig;
