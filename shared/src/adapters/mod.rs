//! The ports' adapters: DynamoDB (storage), SES v2 (email), SNS (SMS and shop events), the AWS
//! SDK's shared configuration, and in-memory fakes for unit tests. Each AWS adapter is behind its
//! cargo feature, so a function links only the SDK clients it uses.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
pub mod memory;
#[cfg(feature = "ses")]
pub mod ses;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "ssm")]
pub mod ssm;
