//! The `ppx` command line end to end: its own argument parsing and `run`, the real SDK client,
//! moto server, over orders the webhooks stored.

use ppx_cli::app::{Cli, run};
use ppx_cli::commands::CommandError;
use ppx_e2e::{TestEnv, moto_url, read_event, unique};
use serde_json::{Value, json};

/// `ppx ARGS...` against moto, with no `PPX_*` variable set: what a new user's shell has after
/// `eval "$(scripts/local-aws.sh env)"` and `export PPX_TABLE=...` (here `--table`).
async fn ppx(env: &TestEnv, args: &[&str]) -> Result<String, CommandError> {
    let cli = <Cli as clap::Parser>::try_parse_from(std::iter::once("ppx").chain(args.iter().copied())).unwrap();
    run(cli, &env.sdk, &|_| None).await
}

fn order_with(id: u64, number: &str, test: bool) -> Vec<u8> {
    let mut order: Value = read_event("shopify-orders-create.json");
    order["id"] = json!(id);
    order["name"] = json!(number);
    order["test"] = json!(test);
    serde_json::to_vec(&order).unwrap()
}

/// A fresh table and shop with the sample Shopify order (id 5550001001, number #1001) stored
/// through its webhook; the shop's and the table's names.
async fn with_the_sample_order() -> (TestEnv, String, String) {
    let env = TestEnv::start().await;
    let reply = env.post_shopify("orders/create", &order_with(5550001001, "#1001", false), "wh-create").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (shop, table) = (env.shop().to_owned(), env.table.clone());
    (env, shop, table)
}

#[tokio::test]
async fn order_show_finds_an_order_by_the_number_its_customer_sees() {
    let (env, shop, table) = with_the_sample_order().await;

    for wanted in ["1001", "#1001", "5550001001"] {
        let shown = ppx(&env, &["--table", &table, "order", "show", &shop, wanted]).await.unwrap();
        assert!(shown.starts_with(&format!("Order #1001 (id 5550001001) · shop {shop}")), "{wanted}: {shown}");
        assert!(shown.contains("order_confirmation"), "the message log comes with it: {shown}");
    }

    // A test order reusing the number, stored by an update (the other write of an order).
    let reply = env.post_shopify("orders/updated", &order_with(5550009001, "#1001", true), "wh-update").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let err = ppx(&env, &["--table", &table, "order", "show", &shop, "#1001"]).await.unwrap_err();
    let said = err.to_string();
    assert!(
        said.starts_with(&format!("order number #1001 is on 2 orders of shop {shop}: 5550001001 (placed ")),
        "{said}"
    );
    assert!(said.contains("5550009001 (placed ") && said.contains(", test)"), "{said}");
    let shown = ppx(&env, &["--table", &table, "order", "show", &shop, "5550009001"]).await.unwrap();
    assert!(shown.contains("(id 5550009001)") && shown.contains("TEST"), "{shown}");

    let missing = ppx(&env, &["--table", &table, "order", "show", &shop, "1002"]).await.unwrap_err();
    assert_eq!(missing.to_string(), format!("shop {shop} has no order with the id or number 1002"));
}

#[tokio::test]
async fn read_only_commands_need_no_link_secret_or_public_url() {
    let (env, shop, table) = with_the_sample_order().await;

    let listed = ppx(&env, &["--table", &table, "return", "list", &shop]).await.unwrap();
    assert_eq!(listed, format!("0 return(s) needs_review in shop {shop}\n"));
    let shown = ppx(&env, &["--table", &table, "order", "show", &shop, "1001", "--json"]).await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&shown).unwrap()["order"]["id"], "5550001001");
    let figures = ppx(&env, &["--table", &table, "kpi", &shop, "--from", "2020-01-01", "--to", "2030-12-31"]).await;
    assert!(figures.unwrap().contains("requests sent     0"));

    // Every command that prints data prints it as JSON when asked.
    let json = |text: String| serde_json::from_str::<Value>(&text).unwrap();
    let listed = json(ppx(&env, &["--table", &table, "--output", "json", "return", "list", &shop]).await.unwrap());
    assert_eq!(listed, json!([]));
    let kpi = ["--table", &table, "kpi", &shop, "--from", "2020-01-01", "--to", "2030-12-31", "--output", "json"];
    let figures = json(ppx(&env, &kpi).await.unwrap());
    assert_eq!((&figures["review_requests_sent"], &figures["nps"]), (&json!(0), &Value::Null), "{figures}");
    let shops = json(ppx(&env, &["--table", &table, "shop", "list", "--output", "json"]).await.unwrap());
    assert!(shops.as_array().unwrap().contains(&json!(shop)), "{shops}");
    let shown =
        json(ppx(&env, &["--table", &table, "--output", "json", "order", "show", &shop, "1001"]).await.unwrap());
    assert_eq!(shown["order"]["id"], "5550001001");
    for args in [["suppression", "list"], ["customer", "requests"]] {
        let printed = ppx(&env, &["--table", &table, "--output", "json", args[0], args[1], &shop]).await.unwrap();
        assert_eq!(json(printed), json!([]), "{args:?}");
    }
    let doctor = json(ppx(&env, &["--table", &table, "--output", "json", "doctor"]).await.unwrap());
    assert_eq!(doctor[0]["verdict"], "ok", "{doctor}");
    assert!(doctor[0]["text"].as_str().unwrap().starts_with(&format!("table {table}")), "{doctor}");

    // What tells the customer does need the public URL, and says so (the link keys come from
    // SSM: no link secret on this machine).
    let decide = ppx(&env, &["--table", &table, "return", "decide", &shop, "R1", "approve"]).await.unwrap_err();
    assert_eq!(decide.to_string(), "environment variable PPX_PUBLIC_URL is required");
}

#[tokio::test]
async fn a_table_that_does_not_exist_is_one_sentence() {
    let env = TestEnv::start().await;
    let table = format!("ppx-missing-{}", unique());
    let expected = format!("table {table} does not exist on {}; run `ppx init` or set PPX_TABLE", moto_url());
    for args in [
        vec!["--table", &table, "order", "show", env.shop(), "1001"],
        vec!["--table", &table, "return", "list", env.shop()],
        vec!["--table", &table, "kpi", env.shop(), "--from", "2026-01-01", "--to", "2026-12-31"],
        // Told before serving, not as a 5xx to every webhook.
        vec!["--table", &table, "serve", "--addr", "127.0.0.1:0"],
    ] {
        let err = ppx(&env, &args).await.unwrap_err();
        assert!(matches!(err, CommandError::Aws(_)), "{args:?}: {err:?}");
        assert_eq!(err.to_string(), expected, "{args:?}");
    }
}

/// A stack in moto with the outputs `ppx --stack` reads (the real template needs SAM's transform,
/// which moto's CloudFormation does not run): this test's table, its served pages, the SES
/// configuration set and an alarm topic.
async fn stack_of(env: &TestEnv) -> String {
    let name = format!("ppx-stack-{}", unique());
    let template = json!({
        "Resources": { "AlarmTopic": { "Type": "AWS::SNS::Topic", "Properties": { "TopicName": format!("{name}-alarms") } } },
        "Outputs": {
            "TableName": { "Value": env.table },
            "CustomerLinksBaseUrl": { "Value": env.base_url },
            "MailConfigurationSetName": { "Value": ppx_e2e::CONFIGURATION_SET },
            "AlarmTopicArn": { "Value": { "Ref": "AlarmTopic" } }
        }
    });
    let cloudformation = aws_sdk_cloudformation::Client::new(&env.sdk);
    cloudformation.create_stack().stack_name(&name).template_body(template.to_string()).send().await.unwrap();
    name
}

#[tokio::test]
async fn a_deployed_stack_is_found_by_its_name_and_the_doctor_says_what_to_fix() {
    let (env, shop, _) = with_the_sample_order().await;
    let stack = stack_of(&env).await;

    // The table comes from the stack: no --table.
    let listed = ppx(&env, &["--stack", &stack, "shop", "list"]).await.unwrap();
    assert!(listed.contains(&shop), "{listed}");
    let shown = ppx(&env, &["--stack", &stack, "order", "show", &shop, "1001"]).await.unwrap();
    assert!(shown.starts_with("Order #1001"), "{shown}");

    let report = ppx(&env, &["--stack", &stack, "doctor"]).await.unwrap();
    assert!(report.contains(&format!("ok   table {} is ACTIVE", env.table)), "{report}");
    // moto never marks an identity verified (its VerifiedForSendingStatus stays false), as SES
    // says of one whose DNS records are not published yet.
    let sender_line =
        format!("FIX  shop {shop} sends as orders@demo-shop.example: demo-shop.example is not verified yet;");
    assert!(report.contains(&sender_line), "{report}");
    assert!(report.contains("aws sesv2 create-email-identity --email-identity demo-shop.example"), "{report}");
    // Nor does it serve SES v2's GetAccount: told as not known, not as fine.
    assert!(report.contains("??   the SES account's sandbox and sending status: "), "{report}");
    assert!(report.contains(&format!("ok   SES configuration set {} exists", ppx_e2e::CONFIGURATION_SET)), "{report}");
    assert!(report.contains(&format!("ok   stack {stack}: its 1 resources are in place")), "{report}");
    assert!(report.contains("FIX  nobody is told of alarms"), "{report}");
    assert!(report.contains(&format!("ok   {} answers (a made-up link gets 4", env.base_url)), "{report}");
    assert!(
        report.contains(&format!("ok   table {} removes items after their expires_at (TTL)", env.table)),
        "{report}"
    );
    assert!(report.contains("ok   link keys: k1 signs, 1 key(s) open links"), "{report}");
    assert!(report.contains(&format!("ok   shop {shop} has webhook secrets for shopify, ")), "{report}");

    // No TTL on the table, no link keys yet, a shop without its secrets: each told with what to run.
    let ttl_off = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
        .enabled(false)
        .attribute_name("expires_at")
        .build()
        .unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&env.sdk);
    dynamodb.update_time_to_live().table_name(&env.table).time_to_live_specification(ttl_off).send().await.unwrap();
    let ssm = aws_sdk_ssm::Client::new(&env.sdk);
    let link_keys = ppx_shared::adapters::ssm::link_keys_parameter_name(&env.table);
    ssm.delete_parameter().name(link_keys).send().await.unwrap();
    let shop_secrets = ppx_shared::adapters::ssm::parameter_name(&env.table, &env.settings.shop);
    ssm.delete_parameter().name(shop_secrets).send().await.unwrap();
    let report = ppx(&env, &["--stack", &stack, "doctor"]).await.unwrap();
    assert!(report.contains(&format!("FIX  table {} has no TTL on expires_at", env.table)), "{report}");
    assert!(report.contains("FIX  no link keys: run `ppx keys rotate` before the first order"), "{report}");
    let no_secrets = format!("FIX  shop {shop} has no webhook secrets: every webhook is refused; `ppx shop put`");
    assert!(report.contains(&no_secrets), "{report}");

    // Subscribed: that line turns ok.
    let topic = aws_sdk_cloudformation::Client::new(&env.sdk)
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("AlarmTopicArn"))
        .and_then(|o| o.output_value().map(str::to_owned))
        .unwrap();
    let sns = aws_sdk_sns::Client::new(&env.sdk);
    sns.subscribe().topic_arn(&topic).protocol("email").endpoint("oncall@example.com").send().await.unwrap();
    let report = ppx(&env, &["--stack", &stack, "doctor"]).await.unwrap();
    assert!(report.contains("ok   alarms reach 1 confirmed subscriber(s)"), "{report}");

    let missing = ppx(&env, &["--stack", "no-such-stack", "doctor"]).await.unwrap_err();
    assert_eq!(
        missing.to_string(),
        "stack no-such-stack does not exist in us-east-1; check --stack (or PPX_STACK) and --region"
    );
}

#[tokio::test]
async fn shop_settings_are_validated_shown_without_secrets_listed_and_deleted() {
    let (env, shop, table) = with_the_sample_order().await;
    let example = ppx_e2e::repo_path("events/shop.example.json");
    let valid = ppx(&env, &["--table", &table, "shop", "validate", example.to_str().unwrap()]).await.unwrap();
    assert_eq!(valid, "settings of shop demo-shop are valid");

    let shown = ppx(&env, &["--table", &table, "shop", "get", &shop]).await.unwrap();
    let settings: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(settings["shop"], shop);
    let secrets = settings["webhook_secrets"].as_object().unwrap();
    assert!(!secrets.is_empty() && secrets.values().all(|v| v == "***"), "{secrets:?}");
    assert!(!shown.contains(env.secret(ppx_shared::domain::settings::WebhookSource::Shopify)));

    let unconfirmed = ppx(&env, &["--table", &table, "shop", "delete", &shop]).await.unwrap_err();
    assert_eq!(unconfirmed.to_string(), format!("deleting shop {shop}'s settings needs --yes"));
    ppx(&env, &["--table", &table, "shop", "delete", &shop, "--yes"]).await.unwrap();
    let parameter = ppx_shared::adapters::ssm::parameter_name(&table, &env.settings.shop);
    let ssm = aws_sdk_ssm::Client::new(&env.sdk);
    assert!(ssm.get_parameter().name(&parameter).send().await.is_err(), "its secrets went with it");
    let listed = ppx(&env, &["--table", &table, "shop", "list"]).await.unwrap();
    assert!(!listed.contains(&shop), "{listed}");
    let gone = ppx(&env, &["--table", &table, "shop", "get", &shop]).await.unwrap_err();
    assert_eq!(gone.to_string(), format!("no shop {shop}"));
}

/// A table written by a version before 0.3, its secrets inside the shop's settings item: the
/// functions do not read them there (the webhook is refused, nothing stored), `shop
/// migrate-secrets` moves them to SSM as a SecureString and out of the item, and the webhooks
/// pass again.
#[tokio::test]
async fn secrets_left_in_the_table_by_an_earlier_version_are_moved_to_ssm() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let env = TestEnv::start().await;
    let (shop, table) = (env.settings.shop.clone(), env.table.clone());
    let ssm = aws_sdk_ssm::Client::new(&env.sdk);
    let parameter = ppx_shared::adapters::ssm::parameter_name(&table, &shop);
    ssm.delete_parameter().name(&parameter).send().await.unwrap();
    let legacy: std::collections::HashMap<String, AttributeValue> = env
        .secrets
        .webhook
        .iter()
        .map(|(source, secret)| (source.as_str().to_owned(), AttributeValue::S(secret.expose().to_owned())))
        .collect();
    let dynamo = aws_sdk_dynamodb::Client::new(&env.sdk);
    let key = [
        ("pk".to_owned(), AttributeValue::S(format!("SHOP#{shop}"))),
        ("sk".to_owned(), AttributeValue::S("SETTINGS".into())),
    ];
    dynamo
        .update_item()
        .table_name(&table)
        .set_key(Some(key.clone().into()))
        .update_expression("SET settings.webhook_secrets = :secrets")
        .expression_attribute_values(":secrets", AttributeValue::M(legacy))
        .send()
        .await
        .unwrap();

    let refused = env.post_shopify("orders/create", &order_with(5550001001, "#1001", false), "wh-1").await;
    assert_eq!((refused.status, refused.body["error"].as_str()), (401, Some("source_not_configured")));

    let moved = ppx(&env, &["--table", &table, "shop", "migrate-secrets"]).await.unwrap();
    assert!(moved.starts_with("1 of 1 shop(s) had webhook secrets in the table"), "{moved}");
    let stored = ssm.get_parameter().name(&parameter).with_decryption(true).send().await.unwrap();
    let stored = stored.parameter.unwrap();
    assert_eq!(stored.r#type, Some(aws_sdk_ssm::types::ParameterType::SecureString));
    let stored: ppx_shared::domain::settings::ShopSecrets = serde_json::from_str(stored.value().unwrap()).unwrap();
    assert_eq!(stored, env.secrets);
    let item = dynamo.get_item().table_name(&table).set_key(Some(key.into())).send().await.unwrap();
    let settings = item.item.unwrap()["settings"].as_m().unwrap().clone();
    assert!(!settings.contains_key("webhook_secrets"), "removed from the item");
    assert!(settings.contains_key("display_name"), "the rest of the settings stay");

    // An unknown shop's secrets are remembered for 10 seconds at most.
    env.clock.advance(chrono::Duration::seconds(11));
    let admitted = env.post_shopify("orders/create", &order_with(5550001001, "#1001", false), "wh-1").await;
    assert_eq!(admitted.status, 200, "{}", admitted.body);
    let again = ppx(&env, &["--table", &table, "shop", "migrate-secrets"]).await.unwrap();
    assert!(again.starts_with("0 of 1 shop(s)"), "{again}");
}
