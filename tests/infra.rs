//! Checks on `infra/template.yaml` that need no AWS: the DynamoDB table is the one of
//! `ppx_shared::table::table_def()` (defined once, so the template cannot drift), every
//! function runs on provided.al2023/arm64, the order webhooks are the expected routes,
//! and the IAM statements stay least-privilege.
//!
//! The template uses short-form intrinsics (`!Ref`, `!Sub`, `!GetAtt`, `!If`, ...), which
//! serde_yaml parses as `Value::Tagged`; `to_json` rewrites them into the long form
//! (`{"Ref": ..}`, `{"Fn::GetAtt": [resource, attribute]}`, `{"Fn::Sub": ..}`), so the
//! assertions below read like the JSON CloudFormation would see.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ppx_shared::table::{KeyDef, table_def};
use serde_json::{Map, Value as Json, json};
use serde_yaml::Value as Yaml;

/// What each function is allowed, and why: its routes come from its handler crate, so the code
/// and the template cannot disagree; its actions are the ones its code calls.
struct FunctionSpec {
    resource: &'static str,
    binary: &'static str,
    /// `METHOD /path`; empty for the scheduled function.
    routes: &'static [&'static str],
    table_actions: &'static [&'static str],
    /// Reads gsi1 (due review requests, the list of shops).
    index: bool,
    email: bool,
    sms: bool,
}

/// Webhooks: settings (GetItem), conditional writes (PutItem), releasing a failed claim
/// (DeleteItem), an order's items and a tracking number's (Query). No Scan, no UpdateItem.
const WEBHOOK_ACTIONS: &[&str] = &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"];

const FUNCTIONS: [FunctionSpec; 5] = [
    FunctionSpec {
        resource: "OrderPlacedFunction",
        binary: "order-placed",
        routes: &order_placed::ROUTES,
        table_actions: WEBHOOK_ACTIONS,
        index: false,
        email: true,
        sms: true,
    },
    FunctionSpec {
        resource: "CarrierWebhookFunction",
        binary: "carrier-webhook",
        routes: &carrier_webhook::ROUTES,
        table_actions: WEBHOOK_ACTIONS,
        index: false,
        email: true,
        sms: true,
    },
    FunctionSpec {
        resource: "ReturnSubmittedFunction",
        binary: "return-submitted",
        routes: &return_submitted::ROUTES,
        table_actions: WEBHOOK_ACTIONS,
        index: false,
        email: true,
        sms: true,
    },
    FunctionSpec {
        resource: "ReviewRequestFunction",
        binary: "review-request",
        routes: &[],
        table_actions: WEBHOOK_ACTIONS,
        index: true,
        email: true,
        sms: false,
    },
    FunctionSpec {
        resource: "PagesFunction",
        binary: "pages",
        routes: &pages::ROUTES,
        table_actions: &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
        index: false,
        email: false,
        sms: false,
    },
];

fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml")
}

/// The template as JSON, short-form intrinsics rewritten to their long form.
fn template() -> Json {
    let path = template_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let yaml: Yaml =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    to_json(&yaml)
}

fn to_json(value: &Yaml) -> Json {
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => serde_json::to_value(n).expect("a YAML number is a JSON number"),
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(to_json).collect()),
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, item) in mapping {
                let key = match key {
                    Yaml::String(s) => s.clone(),
                    other => panic!("non-string mapping key in the template: {other:?}"),
                };
                object.insert(key, to_json(item));
            }
            Json::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(&tagged.value);
            let (key, inner) = match name {
                "Ref" | "Condition" => (name.to_owned(), inner),
                // `!GetAtt Resource.Attribute` is `{"Fn::GetAtt": ["Resource", "Attribute"]}`.
                "GetAtt" => match inner {
                    Json::String(s) => {
                        let (resource, attribute) =
                            s.split_once('.').unwrap_or_else(|| panic!("!GetAtt {s} has no attribute"));
                        ("Fn::GetAtt".to_owned(), json!([resource, attribute]))
                    }
                    other => ("Fn::GetAtt".to_owned(), other),
                },
                _ => (format!("Fn::{name}"), inner),
            };
            let mut object = Map::new();
            object.insert(key, inner);
            Json::Object(object)
        }
    }
}

fn resources(template: &Json) -> &Map<String, Json> {
    template["Resources"].as_object().expect("the template has Resources")
}

fn resource<'a>(template: &'a Json, name: &str) -> &'a Json {
    resources(template).get(name).unwrap_or_else(|| panic!("the template has no resource {name}"))
}

fn resources_of_type<'a>(template: &'a Json, ty: &'a str) -> impl Iterator<Item = (&'a String, &'a Json)> {
    resources(template).iter().filter(move |(_, r)| r["Type"] == ty)
}

/// A function property, falling back to `Globals.Function` as SAM does.
fn function_property<'a>(template: &'a Json, function: &'a Json, property: &str) -> &'a Json {
    let own = &function["Properties"][property];
    if own.is_null() { &template["Globals"]["Function"][property] } else { own }
}

/// A value that may be a single item or a list of items, as a list.
fn one_or_many(value: &Json) -> Vec<&Json> {
    match value {
        Json::Array(items) => items.iter().collect(),
        Json::Null => Vec::new(),
        other => vec![other],
    }
}

fn key_schema(keys: &KeyDef) -> Json {
    json!([
        { "AttributeName": keys.partition, "KeyType": "HASH" },
        { "AttributeName": keys.sort, "KeyType": "RANGE" },
    ])
}

// ---------------------------------------------------------------------------------------
// (a) The table is the one of shared/src/table.rs.

#[test]
fn table_key_schema_matches_shared_definition() {
    let template = template();
    let table = resource(&template, "Table");
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let def = table_def();
    assert_eq!(table["Properties"]["KeySchema"], key_schema(&def.keys), "Table KeySchema");
}

#[test]
fn table_attribute_definitions_match_shared_definition() {
    let template = template();
    let definitions = template["Resources"]["Table"]["Properties"]["AttributeDefinitions"]
        .as_array()
        .expect("Table has AttributeDefinitions");

    let mut declared = Vec::new();
    for definition in definitions {
        assert_eq!(definition["AttributeType"], "S", "every key attribute is a string, got {definition}");
        let name = definition["AttributeName"].as_str().expect("AttributeName is a string");
        declared.push(name.to_owned());
    }
    let unique: BTreeSet<_> = declared.iter().cloned().collect();
    assert_eq!(unique.len(), declared.len(), "duplicate AttributeDefinitions: {declared:?}");

    let expected: BTreeSet<String> = table_def().string_attributes.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(unique, expected, "AttributeDefinitions must be exactly the key attributes");
}

#[test]
fn table_global_indexes_match_shared_definition() {
    let template = template();
    let indexes = template["Resources"]["Table"]["Properties"]["GlobalSecondaryIndexes"]
        .as_array()
        .expect("Table has GlobalSecondaryIndexes");
    let def = table_def();

    let declared: BTreeSet<&str> =
        indexes.iter().map(|i| i["IndexName"].as_str().expect("IndexName is a string")).collect();
    let expected: BTreeSet<&str> = def.global_indexes.iter().map(|i| i.name).collect();
    assert_eq!(declared, expected, "GSI names");
    assert_eq!(indexes.len(), def.global_indexes.len(), "duplicate GSI names");

    for index_def in &def.global_indexes {
        let index = indexes.iter().find(|i| i["IndexName"] == index_def.name).expect("checked above");
        assert_eq!(index["KeySchema"], key_schema(&index_def.keys), "{} KeySchema", index_def.name);
        assert!(index_def.projection_all, "table.rs says every index projects all attributes");
        assert_eq!(index["Projection"], json!({ "ProjectionType": "ALL" }), "{} Projection", index_def.name);
    }
}

#[test]
fn table_ttl_matches_shared_definition() {
    let template = template();
    assert_eq!(
        template["Resources"]["Table"]["Properties"]["TimeToLiveSpecification"],
        json!({ "AttributeName": table_def().ttl_attribute, "Enabled": true }),
    );
}

#[test]
fn table_is_on_demand_encrypted_backed_up_and_retained() {
    let template = template();
    let table = resource(&template, "Table");
    let props = &table["Properties"];
    assert_eq!(props["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(props["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    assert_eq!(resources_of_type(&template, "AWS::DynamoDB::Table").count(), 1, "ppx has one table");
}

// ---------------------------------------------------------------------------------------
// (b) Functions and routes.

#[test]
fn every_function_is_provided_al2023_on_arm64() {
    let template = template();
    let functions: Vec<_> = resources_of_type(&template, "AWS::Serverless::Function").collect();
    assert!(!functions.is_empty(), "the template declares no AWS::Serverless::Function");
    assert!(
        resources_of_type(&template, "AWS::Lambda::Function").next().is_none(),
        "declare functions as AWS::Serverless::Function so Globals apply"
    );

    for (name, function) in functions {
        assert_eq!(function_property(&template, function, "Runtime"), "provided.al2023", "{name} Runtime");
        assert_eq!(function_property(&template, function, "Architectures"), &json!(["arm64"]), "{name} Architectures");
        assert_eq!(function_property(&template, function, "Handler"), "bootstrap", "{name} Handler");
        assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda", "{name} is built with cargo-lambda");
        assert!(
            function["Metadata"]["BuildProperties"]["Binary"].is_string(),
            "{name} names its binary in Metadata.BuildProperties.Binary"
        );
        // CodeUri is the workspace root, relative to the template.
        let code_uri = function["Properties"]["CodeUri"].as_str().expect("CodeUri is a path");
        let root = template_path().parent().expect("infra/").join(code_uri);
        let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{name} CodeUri {code_uri} has no Cargo.toml: {e}"));
        assert!(manifest.contains("[workspace]"), "{name} CodeUri must be the workspace root");
    }
}

#[test]
fn each_function_builds_its_binary() {
    let template = template();
    for spec in &FUNCTIONS {
        let function = resource(&template, spec.resource);
        assert_eq!(function["Type"], "AWS::Serverless::Function");
        assert_eq!(function["Metadata"]["BuildProperties"]["Binary"], spec.binary);
    }
    // And nothing deployed that this test does not know about.
    let deployed: BTreeSet<&str> =
        resources_of_type(&template, "AWS::Serverless::Function").map(|(n, _)| n.as_str()).collect();
    let known: BTreeSet<&str> = FUNCTIONS.iter().map(|s| s.resource).collect();
    assert_eq!(deployed, known);
}

#[test]
fn the_review_function_runs_on_a_schedule() {
    let template = template();
    let events = resource(&template, "ReviewRequestFunction")["Properties"]["Events"].as_object().unwrap();
    assert_eq!(events.len(), 1);
    let event = events.values().next().unwrap();
    assert_eq!(event["Type"], "Schedule");
    assert_eq!(event["Properties"]["Schedule"], json!({ "Ref": "ReviewSchedule" }));
    assert_eq!(template["Parameters"]["ReviewSchedule"]["Default"], "rate(15 minutes)");
}

#[test]
fn each_function_has_exactly_its_handlers_routes() {
    let template = template();
    for spec in FUNCTIONS.iter().filter(|s| !s.routes.is_empty()) {
        let function = spec.resource;
        let events = resource(&template, function)["Properties"]["Events"].as_object().expect("function has Events");
        let mut routes = Vec::new();
        for (name, event) in events {
            assert_eq!(event["Type"], "HttpApi", "{function} event {name} must be an HttpApi route");
            let props = &event["Properties"];
            assert_eq!(props["ApiId"], json!({ "Ref": "HttpApi" }), "{function} event {name} uses the shared HttpApi");
            routes.push(format!("{} {}", props["Method"].as_str().unwrap(), props["Path"].as_str().unwrap()));
        }
        routes.sort_unstable();
        let mut expected: Vec<String> = spec.routes.iter().map(|r| r.to_string()).collect();
        expected.sort_unstable();
        assert_eq!(routes, expected, "{function}: each route of its handler exactly once");
    }
    assert_eq!(resource(&template, "HttpApi")["Type"], "AWS::Serverless::HttpApi");
}

#[test]
fn globals_pass_the_shared_environment() {
    let template = template();
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(variables["PPX_TABLE"], json!({ "Ref": "Table" }));
    assert_eq!(variables["PPX_PUBLIC_URL"], json!({ "Ref": "PublicBaseUrl" }));
    assert_eq!(variables["PPX_LINK_SECRET"], json!({ "Ref": "LinkSecret" }));
    assert_eq!(variables["RUST_LOG"], json!({ "Ref": "LogLevel" }));
    let secret = &template["Parameters"]["LinkSecret"];
    assert_eq!(secret["NoEcho"], true, "LinkSecret is NoEcho");
    assert!(secret["MinLength"].as_u64().is_some_and(|n| n >= 32), "LinkSecret MinLength >= 32");
}

// ---------------------------------------------------------------------------------------
// (c) IAM stays least-privilege.

/// Every IAM policy statement anywhere in the template, with where it was found.
fn statements(template: &Json) -> Vec<(String, &Json)> {
    fn walk<'a>(value: &'a Json, at: String, out: &mut Vec<(String, &'a Json)>) {
        match value {
            Json::Object(object) => {
                if let Some(statement) = object.get("Statement") {
                    for (i, s) in one_or_many(statement).into_iter().enumerate() {
                        out.push((format!("{at}/Statement/{i}"), s));
                    }
                }
                for (key, item) in object {
                    walk(item, format!("{at}/{key}"), out);
                }
            }
            Json::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(template, String::new(), &mut out);
    out
}

fn is_allow(statement: &Json) -> bool {
    // A statement without Effect is invalid; count it as Allow so it is checked.
    statement["Effect"] != "Deny"
}

fn actions(statement: &Json) -> Vec<&str> {
    one_or_many(&statement["Action"])
        .into_iter()
        .map(|a| a.as_str().unwrap_or_else(|| panic!("Action must be a string, got {a}")))
        .collect()
}

/// The Allow statements of one function's inline policies.
fn function_allow_statements<'a>(template: &'a Json, function: &str) -> Vec<&'a Json> {
    one_or_many(&resource(template, function)["Properties"]["Policies"])
        .into_iter()
        .flat_map(|policy| one_or_many(&policy["Statement"]))
        .filter(|s| is_allow(s))
        .collect()
}

#[test]
fn no_statement_allows_a_wildcard_action() {
    let template = template();
    let found = statements(&template);
    assert!(!found.is_empty(), "found no IAM statement: the walker is broken");
    for (at, statement) in found {
        if !is_allow(statement) {
            continue;
        }
        assert!(statement.get("NotAction").is_none(), "{at}: Allow with NotAction grants every other action");
        let actions = actions(statement);
        assert!(!actions.is_empty(), "{at}: statement without Action");
        for action in actions {
            assert!(!action.contains('*') && !action.contains('?'), "{at}: wildcard action {action:?}");
            assert!(action.contains(':'), "{at}: {action:?} is not service:Action");
        }
    }
}

#[test]
fn function_policies_are_inline_statements_only() {
    // SAM policy templates (DynamoDBCrudPolicy, ...) and managed policies grant more than
    // the functions use and would escape the checks below.
    let template = template();
    for (name, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        for policy in one_or_many(&function["Properties"]["Policies"]) {
            assert!(policy.get("Statement").is_some(), "{name}: policy {policy} is not an inline statement list");
        }
    }
}

#[test]
fn only_sms_publish_is_allowed_on_any_resource() {
    // sns:Publish to a phone number has no resource ARN; nothing else needs "*".
    let template = template();
    for (at, statement) in statements(&template) {
        if !is_allow(statement) {
            continue;
        }
        let on_anything =
            one_or_many(&statement["Resource"]).iter().any(|r| r.as_str().is_some_and(|r| r.contains('*')));
        if on_anything {
            assert_eq!(actions(statement), ["sns:Publish"], "{at}: only sns:Publish may use Resource \"*\"");
        }
        assert!(statement.get("NotResource").is_none(), "{at}: Allow with NotResource");
    }
}

#[test]
fn each_functions_table_statement_is_exactly_its_actions_on_the_table() {
    let template = template();
    for spec in &FUNCTIONS {
        let function = spec.resource;
        let table_statements: Vec<_> = function_allow_statements(&template, function)
            .into_iter()
            .filter(|s| actions(s).iter().any(|a| a.starts_with("dynamodb:")))
            .collect();
        assert_eq!(table_statements.len(), 1, "{function}: one DynamoDB statement: {table_statements:?}");
        let statement = table_statements[0];
        let granted = actions(statement);
        let unique: BTreeSet<&str> = granted.iter().copied().collect();
        assert_eq!(unique.len(), granted.len(), "{function}: duplicate actions: {granted:?}");
        assert_eq!(unique, spec.table_actions.iter().copied().collect(), "{function}: DynamoDB actions");
        let table = json!({ "Fn::GetAtt": ["Table", "Arn"] });
        let resources: Vec<&Json> = one_or_many(&statement["Resource"]);
        if spec.index {
            assert_eq!(resources, [&table, &json!({ "Fn::Sub": "${Table.Arn}/index/gsi1" })], "{function}");
        } else {
            assert_eq!(resources, [&table], "{function}: the table only, not its index");
        }
    }
}

#[test]
fn each_function_grants_nothing_beyond_what_it_calls() {
    let template = template();
    for spec in &FUNCTIONS {
        let granted: BTreeSet<&str> =
            function_allow_statements(&template, spec.resource).into_iter().flat_map(actions).collect();
        let mut expected: BTreeSet<&str> = spec.table_actions.iter().copied().collect();
        if spec.email {
            expected.insert("ses:SendEmail");
        }
        if spec.sms {
            expected.insert("sns:Publish");
        }
        assert_eq!(granted, expected, "{}", spec.resource);
    }
}

#[test]
fn each_function_sends_email_from_the_sender_identity_only() {
    let template = template();
    for spec in FUNCTIONS.iter().filter(|s| s.email) {
        let function = spec.resource;
        let email: Vec<_> = function_allow_statements(&template, function)
            .into_iter()
            .filter(|s| actions(s).contains(&"ses:SendEmail"))
            .collect();
        assert_eq!(email.len(), 1, "{function}: one SES statement");
        assert_eq!(actions(email[0]), ["ses:SendEmail"]);
        let resources = one_or_many(&email[0]["Resource"]);
        assert_eq!(
            resources[0],
            &json!({
                "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SenderIdentity}"
            }),
        );
        // Anything else is the configuration set, present only when the parameter is set.
        for extra in &resources[1..] {
            assert_eq!(extra["Fn::If"][0], "HasConfigurationSet", "unexpected SES resource {extra}");
            assert_eq!(extra["Fn::If"][2], json!({ "Ref": "AWS::NoValue" }));
        }
    }
}
