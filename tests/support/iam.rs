//! The template's IAM statements, enforced on the served functions' SDK clients: every request a
//! function makes in the end-to-end tests must be allowed to it by `infra/template.yaml`, the
//! way AWS authorizes it. moto does not check IAM, so without this a missing grant would show
//! only once deployed, as AccessDenied on the first webhook that needs it.
//!
//! How AWS maps requests to actions (DynamoDB developer guide, "Using IAM with DynamoDB
//! transactions"): `TransactWriteItems` needs the action of each of its parts (`PutItem`,
//! `UpdateItem`, `DeleteItem`, and `ConditionCheckItem` for a `ConditionCheck`); a `Query` of an
//! index is authorized on the index's ARN; every other operation is the action of its name.

use crate::template::{actions, function_allow_statements, one_or_many, template};
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_sns::operation::publish::PublishInput;
use aws_sdk_ssm::operation::get_parameter::GetParameterInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{BeforeSerializationInterceptorContextRef, Input};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Value as Json, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// The template's resource of each function, by the name of its binary.
pub const FUNCTION_RESOURCES: [(&str, &str); 6] = [
    ("order-placed", "OrderPlacedFunction"),
    ("carrier-webhook", "CarrierWebhookFunction"),
    ("return-submitted", "ReturnSubmittedFunction"),
    ("review-request", "ReviewRequestFunction"),
    ("pages", "PagesFunction"),
    ("mail-feedback", "MailFeedbackFunction"),
];

/// The account, region and partition moto serves (what the template's `${AWS::...}` resolve to).
pub const TEST_ACCOUNT: &str = "123456789012";
pub const TEST_REGION: &str = "us-east-1";

/// What a request acts on, as far as these checks tell resources apart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// The table (`!GetAtt Table.Arn`).
    Table,
    /// The table's gsi1 index (`${Table.Arn}/index/gsi1`).
    Index,
    /// An SNS topic, by its ARN.
    Topic(String),
    /// A direct SMS publish: a phone number has no ARN.
    PhoneNumber,
    /// An SSM parameter, by its ARN.
    Parameter(String),
    /// Anything else (an SES identity): the action alone is checked.
    Other,
}

/// What a statement grants its actions on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Granted {
    Table,
    Index,
    /// An ARN pattern (`*` matches any run of characters), the template's `${AWS::...}` resolved.
    Arn(String),
    /// Everything but what matches the pattern (`NotResource`).
    AllBut(String),
}

/// An SES identity or configuration set, a topic ARN: `${AWS::...}` resolved for the tests.
fn resolved(resource: &Json) -> String {
    let text = resource.get("Fn::Sub").and_then(Json::as_str).or(resource.as_str()).unwrap_or("<unresolved>");
    // Each test has its own table: `${Table}` (the table's name) is `ppx-test-<id>`.
    text.replace("${AWS::Partition}", "aws")
        .replace("${AWS::Region}", TEST_REGION)
        .replace("${AWS::AccountId}", TEST_ACCOUNT)
        .replace("${Table}", "ppx-test-*")
}

/// IAM's ARN matching: `*` is any run of characters (no `?` in this template).
fn arn_matches(pattern: &str, arn: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = arn.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

impl Granted {
    fn of(resource: &Json) -> Self {
        if *resource == json!({ "Fn::GetAtt": ["Table", "Arn"] }) {
            Self::Table
        } else if *resource == json!({ "Fn::Sub": "${Table.Arn}/index/gsi1" }) {
            Self::Index
        } else {
            Self::Arn(resolved(resource))
        }
    }

    fn covers(&self, target: &Target) -> bool {
        match (self, target) {
            (Self::Table, Target::Table) | (Self::Index, Target::Index) => true,
            (Self::Arn(pattern), Target::Topic(arn) | Target::Parameter(arn)) => arn_matches(pattern, arn),
            // A phone number has no ARN: only `*` or a NotResource of ARNs reaches it.
            (Self::Arn(pattern), Target::PhoneNumber) => pattern == "*",
            (Self::AllBut(pattern), Target::Topic(arn) | Target::Parameter(arn)) => !arn_matches(pattern, arn),
            (Self::AllBut(_), Target::PhoneNumber) => true,
            (Self::Arn(_) | Self::AllBut(_), Target::Other) => true,
            _ => false,
        }
    }
}

/// The actions a function's Allow statements grant, with what on.
#[derive(Debug, Clone, Default)]
pub struct Grants(BTreeSet<(String, Granted)>);

impl Grants {
    /// The grants of the function whose binary is `binary`.
    pub fn of(binary: &str) -> Self {
        let (_, resource) = FUNCTION_RESOURCES
            .iter()
            .find(|(name, _)| *name == binary)
            .unwrap_or_else(|| panic!("no template resource for the function {binary}"));
        let template = template();
        let mut grants = BTreeSet::new();
        for statement in function_allow_statements(&template, resource) {
            let granted: Vec<Granted> = match statement.get("NotResource") {
                Some(not) => one_or_many(not).into_iter().map(|r| Granted::AllBut(resolved(r))).collect(),
                None => one_or_many(&statement["Resource"]).into_iter().map(Granted::of).collect(),
            };
            for action in actions(statement) {
                for on in &granted {
                    grants.insert((action.to_owned(), on.clone()));
                }
            }
        }
        Self(grants)
    }

    pub fn allow(&self, action: &str, target: &Target) -> bool {
        self.0.iter().any(|(granted, on)| granted == action && on.covers(target))
    }
}

/// The IAM actions (and their targets) one request needs.
pub fn required_actions(service: &str, operation: &str, input: &Input) -> Vec<(String, Target)> {
    match service {
        "DynamoDB" => {
            if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
                return transaction
                    .transact_items()
                    .iter()
                    .map(|item| {
                        let action = if item.put().is_some() {
                            "PutItem"
                        } else if item.update().is_some() {
                            "UpdateItem"
                        } else if item.delete().is_some() {
                            "DeleteItem"
                        } else {
                            "ConditionCheckItem"
                        };
                        (format!("dynamodb:{action}"), Target::Table)
                    })
                    .collect();
            }
            let on_index = input.downcast_ref::<QueryInput>().is_some_and(|query| query.index_name().is_some());
            vec![(format!("dynamodb:{operation}"), if on_index { Target::Index } else { Target::Table })]
        }
        "SESv2" => vec![(format!("ses:{operation}"), Target::Other)],
        "SNS" => {
            let target = match input.downcast_ref::<PublishInput>().and_then(|p| p.topic_arn()) {
                Some(topic) => Target::Topic(topic.to_owned()),
                None => Target::PhoneNumber,
            };
            vec![(format!("sns:{operation}"), target)]
        }
        "SSM" => {
            let name = input.downcast_ref::<GetParameterInput>().and_then(|get| get.name()).unwrap_or("<unnamed>");
            let arn = format!("arn:aws:ssm:{TEST_REGION}:{TEST_ACCOUNT}:parameter{name}");
            vec![(format!("ssm:{operation}"), Target::Parameter(arn))]
        }
        other => vec![(format!("{}:{operation}", other.to_lowercase()), Target::Other)],
    }
}

/// Refuses, before it is sent, every request the function's statements do not allow, and notes
/// it in `denied` (the test environment fails on any).
#[derive(Debug, Clone)]
pub struct IamGuard {
    function: &'static str,
    grants: Arc<Grants>,
    denied: Arc<Mutex<Vec<String>>>,
}

impl IamGuard {
    pub fn new(function: &'static str, denied: Arc<Mutex<Vec<String>>>) -> Self {
        Self { function, grants: Arc::new(Grants::of(function)), denied }
    }
}

impl Intercept for IamGuard {
    fn name(&self) -> &'static str {
        "IamGuard"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metadata = cfg.load::<Metadata>().ok_or("IamGuard: the request has no operation metadata")?;
        let missing: Vec<String> = required_actions(metadata.service(), metadata.name(), context.input())
            .into_iter()
            .filter(|(action, target)| !self.grants.allow(action, target))
            .map(|(action, target)| format!("{action} on {target:?}"))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let denial = format!(
            "{}: infra/template.yaml does not allow {} ({} {})",
            self.function,
            missing.join(", "),
            metadata.service(),
            metadata.name()
        );
        eprintln!("IAM guard: {denial}");
        self.denied.lock().expect("denials lock").push(denial.clone());
        Err(denial.into())
    }
}
