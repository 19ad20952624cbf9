//! The ports the use cases run over: storage, messaging and the clock. Their adapters (DynamoDB,
//! SES, SNS, in-memory fakes) are in `adapters`.

pub mod clock;
pub mod messaging;
pub mod secrets;
pub mod store;
