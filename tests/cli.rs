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

    // What tells the customer does need them, and says which is missing.
    let decide = ppx(&env, &["--table", &table, "return", "decide", &shop, "R1", "approve"]).await.unwrap_err();
    assert_eq!(decide.to_string(), "environment variable PPX_LINK_SECRET is required");
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
