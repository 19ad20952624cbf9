//! Checks on `infra/template.yaml` that need no AWS: the DynamoDB table is the one of
//! `ppx_shared::adapters::dynamo::table::table_def()` (defined once, so the template cannot drift), every
//! function runs on provided.al2023/arm64, the order webhooks are the expected routes,
//! and the IAM statements stay least-privilege. The template is read in its long form
//! (`ppx_e2e::template`), as CloudFormation sees it. That the statements are enough for what
//! each function calls is checked on every request of the end-to-end tests (`ppx_e2e::iam`).

use std::collections::BTreeSet;

use ppx_e2e::template::{
    actions, function_allow_statements, is_allow, one_or_many, resource, resources, template, template_path,
};
use ppx_shared::adapters::dynamo::table::{KeyDef, table_def};
use ppx_shared::http::routes::{Function, routes_of};
use serde_json::{Value as Json, json};

/// What each function is allowed, and why: its routes come from the one route table, so the code
/// and the template cannot disagree; its actions are the ones its code calls.
struct FunctionSpec {
    resource: &'static str,
    binary: &'static str,
    /// `METHOD /path`; empty for the scheduled function.
    /// The handler's function in the one route table (`shared/src/http/routes.rs`).
    function: Option<Function>,
    table_actions: &'static [&'static str],
    /// Reads gsi1 (due review requests and parcel watches, the list of shops).
    index: bool,
    email: bool,
    /// `sns:Publish`: texts, or events to the shops' topics.
    sns: bool,
    /// `ssm:GetParameter`: the shops' webhook secrets, to verify signatures with.
    secrets: bool,
    /// `ssm:GetParameter`: the link keys, to seal or open customer links with.
    link_keys: bool,
}

/// Every function: settings and orders (GetItem), conditional writes and message claims
/// (PutItem), a failed send's claim given back (DeleteItem), an order's items (Query). No Scan.
const BASE_ACTIONS: [&str; 4] = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"];
/// The webhooks that change an order's state in transactions: a tracking number's item
/// (UpdateItem), items that must still be absent or unchanged (ConditionCheckItem), and a
/// message's email and SMS records in one request (BatchWriteItem).
const STATE_ACTIONS: [&str; 7] = [
    BASE_ACTIONS[0],
    BASE_ACTIONS[1],
    BASE_ACTIONS[2],
    BASE_ACTIONS[3],
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchWriteItem",
];
/// The review run: the base, a failed request deferred behind the others (UpdateItem), and an
/// email's claim only while its address is not suppressed (ConditionCheckItem).
const REVIEW_ACTIONS: [&str; 6] = [
    BASE_ACTIONS[0],
    BASE_ACTIONS[1],
    BASE_ACTIONS[2],
    BASE_ACTIONS[3],
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
];
/// Returns: the base, a return stored in one transaction with its order's returns version
/// (UpdateItem), an email's claim only while its address is not suppressed
/// (ConditionCheckItem), and a notice's email and SMS records in one request.
const RETURN_ACTIONS: [&str; 7] = [
    BASE_ACTIONS[0],
    BASE_ACTIONS[1],
    BASE_ACTIONS[2],
    BASE_ACTIONS[3],
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchWriteItem",
];

const FUNCTIONS: [FunctionSpec; 6] = [
    FunctionSpec {
        resource: "OrderPlacedFunction",
        binary: "order-placed",
        function: Some(Function::OrderPlaced),
        table_actions: &STATE_ACTIONS,
        index: false,
        email: true,
        sns: true,
        secrets: true,
        link_keys: true,
    },
    FunctionSpec {
        resource: "CarrierWebhookFunction",
        binary: "carrier-webhook",
        function: Some(Function::CarrierWebhook),
        table_actions: &STATE_ACTIONS,
        index: false,
        email: true,
        sns: true,
        secrets: true,
        link_keys: true,
    },
    FunctionSpec {
        resource: "ReturnSubmittedFunction",
        binary: "return-submitted",
        function: Some(Function::ReturnSubmitted),
        table_actions: &RETURN_ACTIONS,
        index: false,
        email: true,
        sns: true,
        secrets: true,
        link_keys: true,
    },
    FunctionSpec {
        resource: "ReviewRequestFunction",
        binary: "review-request",
        function: None,
        table_actions: &REVIEW_ACTIONS,
        index: true,
        email: true,
        // The parcel watch's events to the shops' topics.
        sns: true,
        secrets: false,
        link_keys: true,
    },
    FunctionSpec {
        resource: "PagesFunction",
        binary: "pages",
        function: Some(Function::Pages),
        table_actions: &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
        index: false,
        email: false,
        sns: false,
        secrets: false,
        link_keys: true,
    },
    FunctionSpec {
        resource: "MailFeedbackFunction",
        binary: "mail-feedback",
        // Invoked by the SES feedback topic, not by a route.
        function: None,
        // The order's items (Query); the feedback and the suppressed address (PutItem).
        table_actions: &["dynamodb:PutItem", "dynamodb:Query"],
        index: false,
        email: false,
        sns: false,
        secrets: false,
        link_keys: false,
    },
];

fn resources_of_type<'a>(template: &'a Json, ty: &'a str) -> impl Iterator<Item = (&'a String, &'a Json)> {
    resources(template).iter().filter(move |(_, r)| r["Type"] == ty)
}

/// A function property, falling back to `Globals.Function` as SAM does.
fn function_property<'a>(template: &'a Json, function: &'a Json, property: &str) -> &'a Json {
    let own = &function["Properties"][property];
    if own.is_null() { &template["Globals"]["Function"][property] } else { own }
}

fn key_schema(keys: &KeyDef) -> Json {
    json!([
        { "AttributeName": keys.partition, "KeyType": "HASH" },
        { "AttributeName": keys.sort, "KeyType": "RANGE" },
    ])
}

// ---------------------------------------------------------------------------------------
// (a) The table is the one of shared/src/adapters/dynamo/table.rs.

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
fn ses_feedback_reaches_the_feedback_function_only_from_ses_through_its_topic() {
    let template = template();
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(globals["PPX_SES_CONFIGURATION_SET"], json!({ "Ref": "MailConfigurationSet" }));
    let destination = &resource(&template, "MailFeedbackDestination")["Properties"];
    assert_eq!(destination["ConfigurationSetName"], json!({ "Ref": "MailConfigurationSet" }));
    let event_destination = &destination["EventDestination"];
    assert_eq!(event_destination["Enabled"], true);
    let types: BTreeSet<&str> =
        event_destination["MatchingEventTypes"].as_array().unwrap().iter().filter_map(Json::as_str).collect();
    assert_eq!(types, BTreeSet::from(["bounce", "complaint", "delivery", "reject", "deliveryDelay"]));
    assert_eq!(event_destination["SnsDestination"]["TopicARN"], json!({ "Ref": "MailFeedbackTopic" }));

    // The topic: SES of this account's configuration set publishes, nobody else.
    let policy = &resource(&template, "MailFeedbackTopicPolicy")["Properties"];
    assert_eq!(policy["Topics"], json!([{ "Ref": "MailFeedbackTopic" }]));
    let statements = policy["PolicyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Principal"], json!({ "Service": "ses.amazonaws.com" }));
    assert_eq!(statements[0]["Action"], "sns:Publish");
    assert_eq!(statements[0]["Condition"]["StringEquals"]["AWS:SourceAccount"], json!({ "Ref": "AWS::AccountId" }));

    // The function: that topic its only trigger (no route), failures to the dead-letter queue.
    let function = &resource(&template, "MailFeedbackFunction")["Properties"];
    let events = function["Events"].as_object().unwrap();
    assert_eq!(events.len(), 1);
    let event = events.values().next().unwrap();
    assert_eq!(event["Type"], "SNS");
    assert_eq!(event["Properties"]["Topic"], json!({ "Ref": "MailFeedbackTopic" }));
    for name in ["MailFeedbackFunction", "ReviewRequestFunction"] {
        let config = &resource(&template, name)["Properties"]["EventInvokeConfig"];
        let on_failure = &config["DestinationConfig"]["OnFailure"];
        assert_eq!(on_failure["Type"], "SQS", "{name}");
        assert_eq!(on_failure["Destination"], json!({ "Fn::GetAtt": ["DeadLetterQueue", "Arn"] }), "{name}");
        assert!(config["MaximumRetryAttempts"].as_u64().is_some_and(|n| n <= 2), "{name}");
    }
}

#[test]
fn alarms_watch_the_mail_reputation_the_sending_account_the_functions_and_the_dead_letters() {
    let template = template();
    let alarms: Vec<(&String, &Json)> = resources_of_type(&template, "AWS::CloudWatch::Alarm").collect();
    for (name, alarm) in &alarms {
        assert_eq!(alarm["Properties"]["AlarmActions"], json!([{ "Ref": "AlarmTopic" }]), "{name}");
    }
    let threshold = |name: &str| resource(&template, name)["Properties"]["Threshold"].as_f64().unwrap();
    assert_eq!(threshold("MailBounceRateAlarm"), 0.02);
    assert_eq!(threshold("MailComplaintRateAlarm"), 0.0005);
    assert_eq!(
        resource(&template, "MailConfigurationSet")["Properties"]["ReputationOptions"]["ReputationMetricsEnabled"],
        true
    );
    // Every function's errors.
    for spec in &FUNCTIONS {
        let watched = alarms.iter().any(|(_, alarm)| {
            let properties = &alarm["Properties"];
            properties["MetricName"] == "Errors"
                && properties["Dimensions"] == json!([{ "Name": "FunctionName", "Value": { "Ref": spec.resource } }])
        });
        assert!(watched, "no errors alarm for {}", spec.resource);
    }
    // The account's refusals, counted in each sending function's logs by the field the code writes.
    let pattern = format!("{{ $.fields.alarm = \"{}\" }}", ppx_shared::app::outbox::ACCOUNT_ALARM);
    let filters: Vec<&Json> = resources_of_type(&template, "AWS::Logs::MetricFilter").map(|(_, f)| f).collect();
    for spec in FUNCTIONS.iter().filter(|s| s.email) {
        let log_group = &resource(&template, spec.resource)["Properties"]["LoggingConfig"]["LogGroup"];
        let counted = filters.iter().any(|f| {
            f["Properties"]["LogGroupName"] == *log_group && f["Properties"]["FilterPattern"] == pattern.as_str()
        });
        assert!(counted, "{}: no metric filter counts its account refusals", spec.resource);
    }
    // Webhooks refused for a bad signature, counted by the code the edge answers with.
    use ppx_shared::http::edge::EdgeError;
    use ppx_shared::http::signature::SignatureError;
    let refused = EdgeError::Signature { header: "X-Shopify-Hmac-Sha256", error: SignatureError::Mismatch };
    let pattern = format!("{{ $.fields.code = \"{}\" }}", refused.code());
    for resource_name in ["OrderPlacedFunction", "CarrierWebhookFunction", "ReturnSubmittedFunction"] {
        let log_group = &resource(&template, resource_name)["Properties"]["LoggingConfig"]["LogGroup"];
        let counted = filters.iter().any(|f| {
            f["Properties"]["LogGroupName"] == *log_group
                && f["Properties"]["FilterPattern"] == pattern.as_str()
                && f["Properties"]["MetricTransformations"][0]["MetricName"] == "RefusedSignatures"
        });
        assert!(counted, "{resource_name}: its refused signatures are not counted");
    }
    assert_eq!(resource(&template, "RefusedSignaturesAlarm")["Properties"]["MetricName"], "RefusedSignatures");
    let account = &resource(&template, "SendingAccountAlarm")["Properties"];
    assert_eq!(account["MetricName"], "SendingAccountRefusals");
    assert_eq!(
        resource(&template, "DeadLetterAlarm")["Properties"]["MetricName"],
        "ApproximateNumberOfMessagesVisible"
    );
}

/// The group a route is throttled and watched in (`WebhookRateLimit`, `Webhook5xxMetric`...).
fn route_group(route: &ppx_shared::http::routes::Route) -> &'static str {
    use ppx_shared::http::routes::Target;
    match route.target {
        Target::Webhook(_) => "Webhook",
        Target::ReturnRequest => "Return",
        Target::Link(_) => "Page",
    }
}

#[test]
fn each_route_group_has_its_own_throttle() {
    use ppx_shared::http::routes::ROUTES;
    let template = template();
    let settings = &resource(&template, "HttpApi")["Properties"]["RouteSettings"];
    for route in &ROUTES {
        let group = route_group(route);
        let key = route.template();
        assert_eq!(settings[&key]["ThrottlingRateLimit"], json!({ "Ref": format!("{group}RateLimit") }), "{key}");
        assert_eq!(settings[&key]["ThrottlingBurstLimit"], json!({ "Ref": format!("{group}BurstLimit") }), "{key}");
    }
    assert_eq!(settings.as_object().unwrap().len(), ROUTES.len(), "no settings for a route that does not exist");
}

#[test]
fn the_sending_domain_is_registered_with_dkim_and_feedback_only_when_asked() {
    let template = template();
    let identity = resource(&template, "SenderDomainIdentity");
    assert_eq!(identity["Condition"], "CreatesSenderIdentity");
    let properties = &identity["Properties"];
    assert_eq!(properties["EmailIdentity"], json!({ "Ref": "SenderIdentity" }));
    assert_eq!(properties["DkimSigningAttributes"]["NextSigningKeyLength"], "RSA_2048_BIT");
    assert_eq!(
        properties["ConfigurationSetAttributes"]["ConfigurationSetName"],
        json!({ "Ref": "MailConfigurationSet" })
    );
    assert_eq!(properties["MailFromAttributes"]["Fn::If"][0], "HasMailFrom");
    assert_eq!(template["Parameters"]["CreateSenderIdentity"]["Default"], "false");
    // The records to publish are outputs, only when the stack registers the domain.
    assert_eq!(template["Outputs"]["DkimRecords"]["Condition"], "CreatesSenderIdentity");
    assert_eq!(template["Outputs"]["MailFromRecords"]["Condition"], "HasMailFrom");
}

#[test]
fn sms_delivery_status_is_written_only_to_snss_own_log_groups() {
    let template = template();
    let role = resource(&template, "SmsDeliveryStatusRole");
    assert_eq!(role["Condition"], "LogsSmsDeliveryStatus");
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"], json!({ "Service": "sns.amazonaws.com" }));
    assert_eq!(trust["Condition"]["StringEquals"]["aws:SourceAccount"], json!({ "Ref": "AWS::AccountId" }));
    let statement = &role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0];
    let resource = statement["Resource"]["Fn::Sub"].as_str().unwrap();
    assert!(
        resource.ends_with(":log-group:sns/${AWS::Region}/${AWS::AccountId}/DirectPublishToPhoneNumber*"),
        "{resource}"
    );
    assert!(actions(statement).iter().all(|a| a.starts_with("logs:")));
}

#[test]
fn a_custom_domain_maps_the_api_and_its_record_only_when_asked() {
    let template = template();
    for (name, condition) in [
        ("ApiDomain", "HasCustomDomain"),
        ("ApiDomainMapping", "HasCustomDomain"),
        ("ApiDomainRecord", "HasHostedZone"),
    ] {
        assert_eq!(resource(&template, name)["Condition"], condition, "{name}");
    }
    let domain = &resource(&template, "ApiDomain")["Properties"];
    assert_eq!(domain["DomainNameConfigurations"][0]["EndpointType"], "REGIONAL");
    assert_eq!(domain["DomainNameConfigurations"][0]["SecurityPolicy"], "TLS_1_2");
    let mapping = &resource(&template, "ApiDomainMapping")["Properties"];
    assert_eq!(mapping["ApiId"], json!({ "Ref": "HttpApi" }));
    assert_eq!(mapping["Stage"], "$default");
    // Without a domain the stack says which URL the links use.
    assert!(template["Outputs"]["CustomerLinksBaseUrl"]["Value"]["Fn::If"].is_array());
    assert_eq!(template["Parameters"]["DomainName"]["Default"], "");
}

#[test]
fn the_dashboard_reads_the_metrics_the_code_writes_and_every_function() {
    let template = template();
    let namespace = json!({ "Fn::Sub": "ppx/${AWS::StackName}" });
    assert_eq!(template["Globals"]["Function"]["Environment"]["Variables"]["PPX_METRICS_NAMESPACE"], namespace);
    let body = resource(&template, "Dashboard")["Properties"]["DashboardBody"]["Fn::Sub"].as_str().unwrap().to_owned();
    // What CloudFormation substitutes, substituted; the rest must be the JSON CloudWatch takes.
    let mut resolved = String::new();
    let mut rest = body.as_str();
    while let Some(start) = rest.find("${") {
        resolved.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed substitution") + start;
        resolved.push_str("resolved");
        rest = &rest[end + 1..];
    }
    resolved.push_str(rest);
    let dashboard: Json = serde_json::from_str(&resolved).expect("the dashboard body is JSON");
    assert!(dashboard["widgets"].as_array().is_some_and(|w| w.len() >= 6));
    let messages =
        format!("{{ppx/${{AWS::StackName}},Kind,Outcome}} MetricName=\\\"{}\\\"", ppx_shared::app::metrics::MESSAGES);
    assert!(body.contains(&messages), "the messages widget searches {messages}: {body}");
    for spec in &FUNCTIONS {
        assert!(body.contains(&format!("${{{}}}", spec.resource)), "{} is not on the dashboard", spec.resource);
    }
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
    for (spec, of) in FUNCTIONS.iter().filter_map(|s| Some((s, s.function?))) {
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
        let mut expected: Vec<String> = routes_of(of).map(|r| r.template()).collect();
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
    // The pages' own URL when given, else the custom domain's (the Rules require one of them).
    assert_eq!(
        variables["PPX_PUBLIC_URL"],
        json!({ "Fn::If": ["HasPublicBaseUrl", { "Ref": "PublicBaseUrl" }, { "Fn::Sub": "https://${DomainName}" }] })
    );
    assert!(template["Rules"]["CustomerLinksHaveABaseUrl"].is_object());
    assert_eq!(variables["PPX_LINK_SECRET"], json!({ "Ref": "LinkSecret" }));
    assert_eq!(variables["RUST_LOG"], json!({ "Ref": "LogLevel" }));
    // No level at which the SDK's bodies or the runtime's raw events reach the logs.
    let log_level = &template["Parameters"]["LogLevel"];
    assert_eq!(log_level["AllowedValues"], json!(["error", "warn", "info", "debug"]), "{log_level}");
    assert!(log_level.get("AllowedPattern").is_none(), "free-form RUST_LOG directives: {log_level}");
    let secret = &template["Parameters"]["LinkSecret"];
    assert_eq!(secret["NoEcho"], true, "LinkSecret is NoEcho");
    // Optional (the link keys live in SSM); when given, 32 characters at least.
    assert_eq!(secret["Default"], "", "LinkSecret is optional");
    assert_eq!(secret["AllowedPattern"], "^(.{32,})?$", "empty, or 32 characters at least");
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
fn no_statement_allows_every_resource_and_only_sms_uses_not_resource() {
    // sns:Publish to a phone number has no resource ARN: it is allowed on whatever is not an SNS
    // ARN, which reaches no topic. Nothing else needs "*" or NotResource.
    let template = template();
    let sms_only = json!({ "Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*" });
    for (at, statement) in statements(&template) {
        if !is_allow(statement) {
            continue;
        }
        for resource in one_or_many(&statement["Resource"]) {
            assert_ne!(resource.as_str(), Some("*"), "{at}: Resource \"*\"");
        }
        if let Some(not) = statement.get("NotResource") {
            assert_eq!((actions(statement), not), (vec!["sns:Publish"], &sms_only), "{at}: NotResource");
        }
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
        if spec.sns {
            expected.insert("sns:Publish");
        }
        if spec.secrets || spec.link_keys {
            expected.insert("ssm:GetParameter");
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
        // Through the stack's configuration set, whose feedback comes back to the stack.
        assert_eq!(
            resources[1],
            &json!({
                "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${MailConfigurationSet}"
            }),
        );
        // Anything else is the extra configuration set, present only when the parameter is set.
        for extra in &resources[2..] {
            assert_eq!(extra["Fn::If"][0], "HasConfigurationSet", "unexpected SES resource {extra}");
            assert_eq!(extra["Fn::If"][2], json!({ "Ref": "AWS::NoValue" }));
        }
    }
}

#[test]
fn the_iam_guard_asks_for_each_part_of_a_transaction_and_the_index_of_a_query() {
    use aws_sdk_dynamodb::operation::query::QueryInput;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
    use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};
    use aws_smithy_runtime_api::client::interceptors::context::Input;
    use ppx_e2e::iam::{Grants, Target, required_actions};

    let put = Put::builder().table_name("t").set_item(Some(Default::default())).build().unwrap();
    let update = Update::builder().table_name("t").set_key(Some(Default::default())).update_expression("SET a = :a");
    let check = ConditionCheck::builder().table_name("t").set_key(Some(Default::default())).condition_expression("c");
    let transaction = TransactWriteItemsInput::builder()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .transact_items(TransactWriteItem::builder().update(update.build().unwrap()).build())
        .transact_items(TransactWriteItem::builder().condition_check(check.build().unwrap()).build())
        .build()
        .unwrap();
    let needed = required_actions("DynamoDB", "TransactWriteItems", &Input::erase(transaction));
    let on_table = |action: &str| (action.to_owned(), Target::Table);
    assert_eq!(
        needed,
        [on_table("dynamodb:PutItem"), on_table("dynamodb:UpdateItem"), on_table("dynamodb:ConditionCheckItem")]
    );

    let by_index = QueryInput::builder().table_name("t").index_name("gsi1").build().unwrap();
    let needed = required_actions("DynamoDB", "Query", &Input::erase(by_index));
    assert_eq!(needed, [("dynamodb:Query".to_owned(), Target::Index)]);

    // The pages read and answer; they change no order state and read no index.
    let pages = Grants::of("pages");
    assert!(pages.allow("dynamodb:Query", &Target::Table));
    assert!(!pages.allow("dynamodb:Query", &Target::Index));
    assert!(!pages.allow("dynamodb:UpdateItem", &Target::Table));
    assert!(Grants::of("review-request").allow("dynamodb:Query", &Target::Index));
    assert!(Grants::of("order-placed").allow("dynamodb:ConditionCheckItem", &Target::Table));
    assert!(Grants::of("order-placed").allow("ses:SendEmail", &Target::Other));
    assert!(!Grants::of("pages").allow("ses:SendEmail", &Target::Other));
}

#[test]
fn sms_reaches_no_topic_and_return_events_only_the_stacks_own_ppx_topics() {
    use aws_sdk_sns::operation::publish::PublishInput;
    use aws_smithy_runtime_api::client::interceptors::context::Input;
    use ppx_e2e::iam::{Grants, TEST_ACCOUNT, TEST_REGION, Target, required_actions};

    let sms = PublishInput::builder().phone_number("+15555550100").message("m").build().unwrap();
    assert_eq!(
        required_actions("SNS", "Publish", &Input::erase(sms)),
        [("sns:Publish".to_owned(), Target::PhoneNumber)]
    );
    let topic = |account: &str, name: &str| Target::Topic(format!("arn:aws:sns:{TEST_REGION}:{account}:{name}"));
    let order_placed = Grants::of("order-placed");
    assert!(order_placed.allow("sns:Publish", &Target::PhoneNumber));
    assert!(!order_placed.allow("sns:Publish", &topic(TEST_ACCOUNT, "ppx-returns")), "SMS reaches no topic");
    for function in ["return-submitted", "carrier-webhook"] {
        let grants = Grants::of(function);
        assert!(grants.allow("sns:Publish", &Target::PhoneNumber), "{function}");
        assert!(grants.allow("sns:Publish", &topic(TEST_ACCOUNT, "ppx-returns")), "{function}");
        assert!(!grants.allow("sns:Publish", &topic(TEST_ACCOUNT, "billing-alerts")), "{function}: another topic");
        assert!(!grants.allow("sns:Publish", &topic("999999999999", "ppx-returns")), "{function}: another account");
        let elsewhere = Target::Topic(format!("arn:aws:sns:eu-west-1:{TEST_ACCOUNT}:ppx-returns"));
        assert!(!grants.allow("sns:Publish", &elsewhere), "{function}: another region");
    }
    assert!(!Grants::of("pages").allow("sns:Publish", &Target::PhoneNumber));
}

#[test]
fn only_the_functions_that_verify_signatures_read_the_shops_secrets() {
    use aws_smithy_runtime_api::client::interceptors::context::Input;
    use ppx_e2e::iam::{Grants, required_actions};

    let get = |name: &str| {
        let input = aws_sdk_ssm::operation::get_parameter::GetParameterInput::builder().name(name).build().unwrap();
        required_actions("SSM", "GetParameter", &Input::erase(input)).remove(0)
    };
    let (action, ours) = get("/ppx/ppx-test-abc/shops/demo-shop/secrets");
    assert_eq!(action, "ssm:GetParameter");
    let (_, another_stacks) = get("/ppx/billing/shops/demo-shop/secrets");
    let (_, link_keys) = get("/ppx/ppx-test-abc/link-keys");
    let (_, another_stacks_link_keys) = get("/ppx/billing/link-keys");
    let (_, beside_the_path) = get("/ppx/ppx-test-abc/other");
    for spec in &FUNCTIONS {
        let (function, grants) = (spec.binary, Grants::of(spec.binary));
        assert_eq!(grants.allow(&action, &ours), spec.secrets, "{function}: the shops' secrets");
        assert_eq!(grants.allow(&action, &link_keys), spec.link_keys, "{function}: the link keys");
        assert!(!grants.allow(&action, &another_stacks), "{function}: another table's shops");
        assert!(!grants.allow(&action, &another_stacks_link_keys), "{function}: another table's link keys");
        assert!(!grants.allow(&action, &beside_the_path), "{function}: beside its parameters");
        assert!(!grants.allow("ssm:PutParameter", &ours), "{function}: writes none");
        assert!(!grants.allow("ssm:PutParameter", &link_keys), "{function}: writes no link key");
    }
    assert!(!FUNCTIONS.iter().find(|f| f.binary == "pages").unwrap().secrets, "the pages read no shop secret");
}

/// The route keys a log metric filter names (`$.routeKey = "..."`, a `*` at the end only).
fn route_key_patterns(pattern: &str) -> Vec<&str> {
    pattern.split("$.routeKey = \"").skip(1).map(|rest| &rest[..rest.find('"').expect("a closing quote")]).collect()
}

fn route_key_matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => key == pattern,
    }
}

#[test]
fn each_route_group_alarms_on_its_share_of_5xx_and_throttling_is_watched() {
    use ppx_shared::http::routes::ROUTES;
    let template = template();
    let access_log = &resource(&template, "HttpApi")["Properties"]["AccessLogSettings"]["Format"];
    let format: String = access_log.as_str().unwrap().split_whitespace().collect();
    // A number, so that the filters can compare it; the route as the API matched it.
    assert!(format.contains(r#""status":$context.status,"#), "{format}");
    assert!(format.contains(r#""routeKey":"$context.routeKey","#), "{format}");
    let filter = |name: &str| {
        let properties = &resource(&template, name)["Properties"];
        assert_eq!(properties["LogGroupName"], json!({ "Ref": "HttpApiAccessLogGroup" }), "{name}");
        let metric = properties["MetricTransformations"][0]["MetricName"].as_str().unwrap().to_owned();
        (properties["FilterPattern"].as_str().unwrap().to_owned(), metric)
    };
    let groups = ["Webhook", "Return", "Page"];
    for route in &ROUTES {
        let group = route_group(route);
        let key = route.template();
        let counted_in: Vec<&str> = groups
            .into_iter()
            .filter(|g| {
                let (requests, _) = filter(&format!("{g}RequestsMetric"));
                route_key_patterns(&requests).into_iter().any(|p| route_key_matches(p, &key))
            })
            .collect();
        assert_eq!(counted_in, [group], "{key}: counted in exactly its throttling group");
    }
    for group in groups {
        let (requests, requests_metric) = filter(&format!("{group}RequestsMetric"));
        let (errors, errors_metric) = filter(&format!("{group}5xxMetric"));
        assert_eq!(route_key_patterns(&errors), route_key_patterns(&requests), "{group}: the same routes");
        assert!(errors.contains("&& $.status >= 500 }") && !requests.contains("status"), "{errors}");
        let alarm = &resource(&template, &format!("{group}ErrorRateAlarm"))["Properties"];
        let metric = |id: &str| {
            let metrics = alarm["Metrics"].as_array().unwrap();
            metrics.iter().find(|m| m["Id"] == id).unwrap()["MetricStat"]["Metric"]["MetricName"].clone()
        };
        assert_eq!((metric("errors"), metric("requests")), (json!(errors_metric), json!(requests_metric)));
        let rate = alarm["Metrics"].as_array().unwrap().iter().find(|m| m["ReturnData"] == true).unwrap();
        assert_eq!(rate["Expression"], "IF(errors >= 3, 100 * errors / requests, 0)", "{group}");
        assert_eq!(alarm["Threshold"], 5, "{group}: 5% of the group's requests");
    }
    // Throttling: the API's 429s, and Lambda's throttles of every function.
    let (throttled, metric) = filter("ThrottledRequestsMetric");
    assert_eq!(throttled, "{ $.status = 429 }");
    assert_eq!(resource(&template, "ApiThrottledAlarm")["Properties"]["MetricName"], json!(metric));
    let lambda = resource(&template, "LambdaThrottlesAlarm")["Properties"]["Metrics"].as_array().unwrap().clone();
    for spec in &FUNCTIONS {
        let watched = lambda.iter().any(|m| {
            let watched = &m["MetricStat"]["Metric"];
            watched["MetricName"] == "Throttles"
                && watched["Dimensions"] == json!([{ "Name": "FunctionName", "Value": { "Ref": spec.resource } }])
        });
        assert!(watched, "{}: its throttles are not watched", spec.resource);
    }
    let sum = lambda.iter().find(|m| m["ReturnData"] == true).unwrap()["Expression"].as_str().unwrap().to_owned();
    assert_eq!(sum.matches(", ").count() + 1, FUNCTIONS.len(), "{sum}");
}
