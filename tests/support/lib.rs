//! End-to-end harness: the real SDK clients against moto server (started by `scripts/local-aws.sh`),
//! the functions behind `ppx serve`'s router on an ephemeral 127.0.0.1 port, and helpers to sign
//! requests and read back what moto "sent".
//!
//! Each test gets its own table, shop id and customer addresses, so tests run in parallel.

use aws_config::BehaviorVersion;
use iam::IamGuard;
use ppx_cli::serve::{Functions, router};
use ppx_shared::adapters::aws::SharedInterceptor;
use ppx_shared::adapters::dynamo::{DynamoStore, create_table_if_missing};
use ppx_shared::adapters::ses::SesEmail;
use ppx_shared::adapters::sns::{SnsEvents, SnsSms};
use ppx_shared::adapters::ssm::SsmSecrets;
use ppx_shared::app::config::AppConfig;
use ppx_shared::app::context::{Adapters, App, PortsOf};
use ppx_shared::domain::link_keys::LinkKeySet;
use ppx_shared::domain::settings::{ShopSecrets, ShopSettings, ShopSetup, WebhookSource};
use ppx_shared::http::signature::{sign_base64_hmac, sign_timestamped};
use ppx_shared::ports::clock::{AnyClock, ManualClock};
use ppx_shared::ports::messaging::EmailSender;
use ppx_shared::ports::secrets::SecretStore;
use ppx_shared::ports::store::OrderView;
use ppx_shared::ports::store::{OrderStore, SettingsStore};
use serde_json::Value;
use std::sync::{Arc, Mutex};

pub use ppx_shared;

pub mod faults;
pub mod iam;
pub mod template;

/// The review run's ports in tests: this test's table, any email sender, a clock the test moves.
pub type ReviewPorts<E> = PortsOf<DynamoStore, SsmSecrets, E, SnsSms, SnsEvents, ManualClock>;
/// The returns' ports in tests, as `ppx return` has them, at the test's clock.
pub type ReturnPorts = PortsOf<DynamoStore, SsmSecrets, SesEmail, SnsSms, SnsEvents, ManualClock>;

pub const SENDER_DOMAIN: &str = "demo-shop.example";
/// A `PPX_LINK_SECRET` of a stack upgraded from 0.2 (the tests of the key rotation).
pub const LINK_SECRET: &str = "test-link-secret-0123456789abcdef0123";
/// Links in test emails point here; tests swap it for the local server's address.
pub const PUBLIC_URL: &str = "https://track.test.example";

/// The account and region moto serves, as the stack's own.
pub fn test_home() -> ppx_shared::domain::settings::StackHome {
    ppx_shared::domain::settings::StackHome {
        account: Some(iam::TEST_ACCOUNT.to_owned()),
        region: Some(iam::TEST_REGION.to_owned()),
    }
}

pub fn moto_url() -> String {
    std::env::var("PPX_MOTO_URL").unwrap_or_else(|_| "http://127.0.0.1:4599".to_owned())
}

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(moto_url())
        .http_client(ppx_shared::adapters::aws::http_client().expect("AWS_CA_BUNDLE"))
        .load()
        .await
}

/// The SDK's standard retries (3 attempts), with backoffs short enough for tests that inject faults.
pub fn quick_retries(sdk: &aws_config::SdkConfig) -> aws_config::SdkConfig {
    let retry = aws_config::retry::RetryConfig::standard()
        .with_initial_backoff(std::time::Duration::from_millis(5))
        .with_max_backoff(std::time::Duration::from_millis(100));
    sdk.to_builder().retry_config(retry).build()
}

pub fn repo_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

pub fn read_event(name: &str) -> Value {
    let raw = std::fs::read(repo_path(&format!("events/{name}"))).expect("event file");
    serde_json::from_slice(&raw).expect("event json")
}

pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(repo_path(&format!("tests/fixtures/{name}"))).expect("fixture file")
}

/// A published sample moved in time: every RFC 3339 timestamp in `value` shifted by the same
/// amount, so that the newest one is `newest`. The providers' samples are years old, and a scan
/// that old is not news (the notification policy keeps it for the tracking page only).
pub fn moved_to(value: &mut Value, newest: chrono::DateTime<chrono::Utc>) {
    fn times(value: &Value, found: &mut Vec<chrono::DateTime<chrono::Utc>>) {
        match value {
            Value::String(text) => found.extend(chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc())),
            Value::Array(items) => items.iter().for_each(|v| times(v, found)),
            Value::Object(fields) => fields.values().for_each(|v| times(v, found)),
            _ => {}
        }
    }
    fn shift(value: &mut Value, by: chrono::Duration) {
        match value {
            Value::String(text) => {
                if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
                    *text = (time.to_utc() + by).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| shift(v, by)),
            Value::Object(fields) => fields.values_mut().for_each(|v| shift(v, by)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    times(value, &mut found);
    if let Some(latest) = found.into_iter().max() {
        shift(value, newest - latest);
    }
}

/// A short random id for names that must not collide between tests.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// The functions' configuration in tests, over `table`: no `PPX_LINK_SECRET`, the link keys are
/// in SSM (as `ppx keys rotate` puts them).
pub fn test_config(table: &str) -> AppConfig {
    AppConfig {
        table: table.to_owned(),
        link_secret: None,
        public_url: PUBLIC_URL.to_owned(),
        settings_ttl: std::time::Duration::from_secs(60),
        secrets_ttl: std::time::Duration::from_secs(300),
        home: test_home(),
        ses_configuration_set: Some(CONFIGURATION_SET.to_owned()),
    }
}

pub struct TestEnv {
    pub suffix: String,
    pub table: String,
    pub settings: ShopSettings,
    /// The shop's webhook secrets, as stored in moto's SSM.
    pub secrets: ShopSecrets,
    /// The link keys, as stored in moto's SSM.
    pub link_keys: LinkKeySet,
    pub store: DynamoStore,
    pub base_url: String,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub sdk: aws_config::SdkConfig,
    /// Every AWS request the served functions make (not the test's own).
    pub requests: ppx_shared::adapters::aws::RequestCounter,
    /// Requests of the functions that their IAM statements do not allow (the test fails on any).
    denied: Arc<Mutex<Vec<String>>>,
    /// What the served functions asked SES to send, as they asked it (moto keeps no tags).
    pub sent: SentByFunctions,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let denied = std::mem::take(&mut *self.denied.lock().expect("denials lock"));
        if !denied.is_empty() && !std::thread::panicking() {
            panic!("requests the template's IAM statements do not allow:\n{}", denied.join("\n"));
        }
    }
}

impl TestEnv {
    /// A fresh table and shop, and the functions served on 127.0.0.1.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(customize: impl FnOnce(&mut ShopSettings)) -> Self {
        Self::start_custom(customize, Vec::new()).await
    }

    /// The same, with more interceptors on the served functions' SDK clients (e.g. faults).
    pub async fn start_custom(customize: impl FnOnce(&mut ShopSettings), extra: Vec<SharedInterceptor>) -> Self {
        let sdk = sdk_config().await;
        let suffix = unique();
        let table = format!("ppx-test-{suffix}");
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        create_table_if_missing(&dynamo, &table).await.expect("moto is running (make test starts it)");
        register_sender(&sdk).await;

        let ShopSetup { mut settings, secrets } =
            ShopSetup::from_json(&std::fs::read_to_string(repo_path("events/shop.example.json")).unwrap()).unwrap();
        settings.shop = ppx_shared::domain::ids::ShopId::parse(&format!("shop-{suffix}")).unwrap();
        settings.platform_domain = Some(format!("shop-{suffix}.myshopify.com"));
        // Tests run at any hour of the real clock: quiet hours only where a test sets them.
        settings.notifications.quiet_hours_end = settings.notifications.quiet_hours_start;
        customize(&mut settings);
        let store = DynamoStore::new(dynamo, table.clone());
        store.put_settings(&settings).await.unwrap();
        let secret_store = SsmSecrets::new(aws_sdk_ssm::Client::new(&sdk), table.clone());
        secret_store.put_shop_secrets(&settings.shop, &secrets).await.unwrap();
        let link_keys = LinkKeySet::first(LinkKeySet::fresh_secret(), chrono::Utc::now());
        secret_store.put_link_keys(&link_keys).await.unwrap();

        let clock = ManualClock::at(chrono::Utc::now());
        let config = test_config(&table);
        let requests = ppx_shared::adapters::aws::RequestCounter::default();
        let denied = Arc::new(Mutex::new(Vec::new()));
        // The IAM guard first: a request the template does not allow is neither sent nor counted.
        let sent = SentByFunctions::default();
        let interceptors = |function| {
            let mut interceptors = vec![
                SharedInterceptor::new(IamGuard::new(function, denied.clone())),
                SharedInterceptor::new(requests.clone()),
                SharedInterceptor::new(sent.clone()),
            ];
            interceptors.extend(extra.iter().cloned());
            interceptors
        };
        let served_sdk = quick_retries(&sdk);
        let clock_for_functions = AnyClock::Manual(clock.clone());
        let functions = Arc::new(Functions::with_interceptors(&served_sdk, &config, clock_for_functions, interceptors));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(functions)).await });

        Self {
            suffix,
            table,
            settings,
            secrets,
            link_keys,
            store,
            base_url,
            http: reqwest::Client::new(),
            clock,
            sdk,
            requests,
            denied,
            sent,
        }
    }

    pub fn shop(&self) -> &str {
        self.settings.shop.as_str()
    }

    pub fn secret(&self, source: WebhookSource) -> &str {
        self.secrets.webhook(source).expect("example shop has every secret").expose()
    }

    /// A customer email no other test uses.
    pub fn customer_email(&self, name: &str) -> String {
        format!("{name}+{}@example.com", self.suffix)
    }

    /// The Shopify sample order as `order_id` (number `#order_id`) for the customer `email`.
    pub fn sample_order_for(&self, order_id: u64, email: &str) -> Value {
        let mut order = read_event("shopify-orders-create.json");
        order["id"] = serde_json::json!(order_id);
        order["name"] = serde_json::json!(format!("#{order_id}"));
        for field in ["email", "contact_email"] {
            order[field] = serde_json::json!(email);
        }
        order["customer"]["email"] = serde_json::json!(email);
        order
    }

    /// An E.164 number no other test uses.
    pub fn customer_phone(&self) -> String {
        let digits: String = self.suffix.bytes().map(|b| char::from(b'0' + b % 10)).take(7).collect();
        format!("+1555{digits}")
    }

    /// The `n`th of up to 100,000 E.164 numbers no other test uses.
    pub fn customer_phone_numbered(&self, n: usize) -> String {
        let digits: String = self.suffix.bytes().map(|b| char::from(b'0' + b % 10)).take(8).collect();
        format!("+1{digits}{n:05}")
    }

    pub async fn post(&self, path: &str, headers: &[(&str, String)], body: impl Into<Vec<u8>>) -> Reply {
        let mut request = self.http.post(format!("{}{path}", self.base_url)).body(body.into());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("server reachable");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    pub fn shopify_headers(&self, topic: &str, body: &[u8], webhook_id: &str) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", "application/json".to_owned()),
            ("x-shopify-topic", topic.to_owned()),
            ("x-shopify-hmac-sha256", sign_base64_hmac(self.secret(WebhookSource::Shopify), body)),
            ("x-shopify-shop-domain", format!("shop-{}.myshopify.com", self.suffix)),
            ("x-shopify-webhook-id", webhook_id.to_owned()),
        ]
    }

    pub async fn post_shopify(&self, topic: &str, body: &[u8], webhook_id: &str) -> Reply {
        let headers = self.shopify_headers(topic, body, webhook_id);
        self.post(&format!("/webhooks/shopify/{}", self.shop()), &headers, body.to_vec()).await
    }

    pub async fn post_woocommerce(&self, topic: &str, body: &[u8], delivery_id: &str) -> Reply {
        let headers = vec![
            ("content-type", "application/json".to_owned()),
            ("x-wc-webhook-topic", topic.to_owned()),
            ("x-wc-webhook-signature", sign_base64_hmac(self.secret(WebhookSource::Woocommerce), body)),
            ("x-wc-webhook-delivery-id", delivery_id.to_owned()),
        ];
        self.post(&format!("/webhooks/woocommerce/{}", self.shop()), &headers, body.to_vec()).await
    }

    pub async fn post_generic(&self, body: &[u8], delivery_id: &str) -> Reply {
        let now = self.clock_now().timestamp();
        let headers = vec![
            ("content-type", "application/json".to_owned()),
            ("ppx-signature", sign_timestamped(self.secret(WebhookSource::Orders), body, now)),
            ("ppx-delivery-id", delivery_id.to_owned()),
        ];
        self.post(&format!("/webhooks/orders/{}", self.shop()), &headers, body.to_vec()).await
    }

    /// Signs like EasyPost: `hmac-sha256-hex=` + hex HMAC-SHA256 of the body (ASCII secrets need no NFKD).
    pub async fn post_easypost(&self, body: &[u8]) -> Reply {
        use hmac::Mac;
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(self.secret(WebhookSource::Easypost).as_bytes()).unwrap();
        mac.update(body);
        let signature = format!("hmac-sha256-hex={}", hex::encode(mac.finalize().into_bytes()));
        let headers = vec![("content-type", "application/json".to_owned()), ("x-hmac-signature", signature)];
        self.post(&format!("/webhooks/easypost/{}", self.shop()), &headers, body.to_vec()).await
    }

    /// The generic tracking format, signed with the shop's `tracking` secret.
    pub async fn post_tracking(&self, body: &[u8]) -> Reply {
        let now = self.clock_now().timestamp();
        let headers = vec![
            ("content-type", "application/json".to_owned()),
            ("ppx-signature", sign_timestamped(self.secret(WebhookSource::Tracking), body, now)),
        ];
        self.post(&format!("/webhooks/tracking/{}", self.shop()), &headers, body.to_vec()).await
    }

    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use ppx_shared::ports::clock::Clock;
        self.clock.now()
    }

    pub async fn order_view(&self, order_id: &str) -> OrderView {
        let id = ppx_shared::domain::ids::OrderId::parse(order_id).unwrap();
        self.store.order_view(&self.settings.shop, &id).await.unwrap()
    }

    /// Every item in this test's table except the shop's settings (tests only; never in code).
    pub async fn items_written(&self) -> Vec<String> {
        let out = aws_sdk_dynamodb::Client::new(&self.sdk).scan().table_name(&self.table).send().await.unwrap();
        out.items()
            .iter()
            .filter_map(|item| {
                let sk = item.get("sk").and_then(|v| v.as_s().ok())?;
                let pk = item.get("pk").and_then(|v| v.as_s().ok())?;
                (sk != "SETTINGS").then(|| format!("{pk}/{sk}"))
            })
            .collect()
    }

    pub async fn emails_to(&self, address: &str) -> Vec<SentEmail> {
        // Only the MIME that mentions the address is parsed: moto keeps every test's emails.
        let raw = raw_emails().await.into_iter().filter(|email| email.raw.contains(address));
        raw.map(|email| read_email(&email.raw)).filter(|m| m.to.iter().any(|t| t == address)).collect()
    }

    /// The raw MIME of every email sent to `address` (every email goes out as raw MIME).
    pub async fn raw_emails_to(&self, address: &str) -> Vec<String> {
        raw_emails().await.into_iter().map(|email| email.raw).filter(|raw| raw.contains(address)).collect()
    }

    /// The review request function over this test's table, sending through `email` at `clock`'s time.
    pub fn review_app<E: EmailSender + 'static>(
        &self,
        email: E,
        clock: ManualClock,
    ) -> review_request::ReviewRequest<ReviewPorts<E>> {
        self.review_app_with(email, clock, review_request::ReviewConfig::default())
    }

    /// The same, with its own batch size and age limit.
    pub fn review_app_with<E: EmailSender + 'static>(
        &self,
        email: E,
        clock: ManualClock,
        config: review_request::ReviewConfig,
    ) -> review_request::ReviewRequest<ReviewPorts<E>> {
        let mut dynamo = aws_sdk_dynamodb::config::Builder::from(&self.sdk);
        dynamo.push_interceptor(SharedInterceptor::new(IamGuard::new("review-request", self.denied.clone())));
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(dynamo.build()), self.table.clone());
        let mut sns = aws_sdk_sns::config::Builder::from(&self.sdk);
        sns.push_interceptor(SharedInterceptor::new(IamGuard::new("review-request", self.denied.clone())));
        let sns = aws_sdk_sns::Client::from_conf(sns.build());
        let events = SnsEvents::new(sns.clone(), self.config().home);
        let adapters = Adapters {
            store,
            secrets: self.secret_store("review-request"),
            email,
            sms: SnsSms::new(sns),
            events,
            clock,
        };
        review_request::ReviewRequest::new(App::new(adapters, &self.config()), config)
    }

    /// The mail feedback function over this test's table, its requests held to its IAM statements.
    pub fn mail_feedback_app(&self) -> mail_feedback::MailFeedback<DynamoStore> {
        let mut dynamo = aws_sdk_dynamodb::config::Builder::from(&self.sdk);
        dynamo.push_interceptor(SharedInterceptor::new(IamGuard::new("mail-feedback", self.denied.clone())));
        mail_feedback::MailFeedback {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(dynamo.build()), self.table.clone()),
        }
    }

    /// The secret store (moto's SSM) of this test's table, its requests held to `function`'s IAM
    /// statements.
    pub fn secret_store(&self, function: &'static str) -> SsmSecrets {
        let mut ssm = aws_sdk_ssm::config::Builder::from(&self.sdk);
        ssm.push_interceptor(SharedInterceptor::new(IamGuard::new(function, self.denied.clone())));
        SsmSecrets::new(aws_sdk_ssm::Client::from_conf(ssm.build()), self.table.clone())
    }

    pub fn ses(&self) -> SesEmail {
        SesEmail::new(aws_sdk_sesv2::Client::new(&self.sdk))
    }

    pub fn config(&self) -> AppConfig {
        test_config(&self.table)
    }

    pub async fn get(&self, path_and_query: &str) -> (u16, String) {
        let response =
            self.http.get(format!("{}{path_and_query}", self.base_url)).send().await.expect("server reachable");
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn post_form(&self, path: &str, form: &str) -> (u16, String) {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .expect("server reachable");
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// A fresh SNS topic for the shop's return events.
    pub async fn create_topic(&self) -> String {
        let sns = aws_sdk_sns::Client::new(&self.sdk);
        let out = sns.create_topic().name(format!("ppx-returns-{}", self.suffix)).send().await.unwrap();
        out.topic_arn.expect("topic arn")
    }

    /// `(subject, message)` of every notification published to a topic.
    pub async fn topic_messages(&self, arn: &str) -> Vec<(String, String)> {
        let state = moto_state().await;
        let topics = state["sns"]["Topic"].as_array().cloned().unwrap_or_default();
        topics
            .iter()
            .filter(|t| t["arn"].as_str() == Some(arn))
            .flat_map(|t| t["sent_notifications"].as_array().cloned().unwrap_or_default())
            .map(|n| (n[2].as_str().unwrap_or_default().to_owned(), n[1].as_str().unwrap_or_default().to_owned()))
            .collect()
    }

    /// The returns' application context over this test's table (for what operators do with
    /// `ppx return`).
    pub fn returns_app(&self) -> App<ReturnPorts> {
        App::new(self.returns_app_adapters(), &self.config())
    }

    /// The adapters of [`TestEnv::returns_app`], to build it with another configuration.
    pub fn returns_app_adapters(&self) -> Adapters<ReturnPorts> {
        let sns = aws_sdk_sns::Client::new(&self.sdk);
        Adapters {
            store: self.store.clone(),
            // What `ppx return decide` reads: the operator's credentials, not a function's grants.
            secrets: SsmSecrets::new(aws_sdk_ssm::Client::new(&self.sdk), self.table.clone()),
            email: self.ses(),
            sms: SnsSms::new(sns.clone()),
            events: SnsEvents::new(sns, self.config().home),
            clock: self.clock.clone(),
        }
    }

    /// A customer's returns link token for one order, as the emails carry it.
    pub fn return_token(&self, order_id: &str) -> String {
        let claims = ppx_shared::domain::link::LinkClaims {
            shop: self.settings.shop.clone(),
            order: ppx_shared::domain::ids::OrderId::parse(order_id).unwrap(),
            purpose: ppx_shared::domain::link::LinkPurpose::Return,
            expires_at: (self.clock_now() + chrono::Duration::days(30)).timestamp(),
        };
        ppx_shared::domain::link::LinkKeyring::new(Some(&self.link_keys), None).expect("a key set").seal(&claims)
    }

    pub async fn sms_to(&self, phone: &str) -> Vec<String> {
        sent_sms().await.into_iter().filter(|(to, _)| to == phone).map(|(_, m)| m).collect()
    }
}

/// The stack's SES configuration set in tests, as the template names its own.
pub const CONFIGURATION_SET: &str = "ppx-test-feedback";

async fn register_sender(sdk: &aws_config::SdkConfig) {
    let ses = aws_sdk_sesv2::Client::new(sdk);
    if let Err(err) = ses.create_email_identity().email_identity(SENDER_DOMAIN).send().await {
        let exists = err.as_service_error().is_some_and(|e| e.is_already_exists_exception());
        assert!(exists, "cannot register the SES sender: {err:?}");
    }
    if let Err(err) = ses.create_configuration_set().configuration_set_name(CONFIGURATION_SET).send().await {
        // moto names it ConfigurationSetAlreadyExistsException, SES AlreadyExistsException.
        use aws_sdk_sesv2::error::ProvideErrorMetadata;
        let exists = err.as_service_error().is_some_and(|e| e.code().is_some_and(|c| c.contains("AlreadyExists")));
        assert!(exists, "cannot create the SES configuration set: {err:?}");
    }
}

/// One `SendEmail` request of a served function: to whom, through which configuration set,
/// with which tags.
#[derive(Debug, Clone)]
pub struct SendEmailRequest {
    pub to: Vec<String>,
    pub configuration_set: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// One text a served function asked SNS to send: to whom, with which message attributes.
#[derive(Debug, Clone)]
pub struct PublishSmsRequest {
    pub to: String,
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// Notes every `SendEmail` request and every SMS `Publish` the served functions make.
#[derive(Debug, Clone, Default)]
pub struct SentByFunctions {
    emails: Arc<Mutex<Vec<SendEmailRequest>>>,
    texts: Arc<Mutex<Vec<PublishSmsRequest>>>,
}

impl SentByFunctions {
    /// The requests that mailed `address`.
    pub fn to(&self, address: &str) -> Vec<SendEmailRequest> {
        let sent = self.emails.lock().expect("sent lock");
        sent.iter().filter(|r| r.to.iter().any(|to| to == address)).cloned().collect()
    }

    /// Every text asked for.
    pub fn texts(&self) -> Vec<PublishSmsRequest> {
        self.texts.lock().expect("sent lock").clone()
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for SentByFunctions {
    fn name(&self) -> &'static str {
        "SentByFunctions"
    }

    fn read_before_serialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(input) = context.input().downcast_ref::<aws_sdk_sesv2::operation::send_email::SendEmailInput>() {
            let request = SendEmailRequest {
                to: input.destination().map(|d| d.to_addresses().to_vec()).unwrap_or_default(),
                configuration_set: input.configuration_set_name().map(str::to_owned),
                tags: input.email_tags().iter().map(|t| (t.name().to_owned(), t.value().to_owned())).collect(),
            };
            self.emails.lock().expect("sent lock").push(request);
        }
        if let Some(input) = context.input().downcast_ref::<aws_sdk_sns::operation::publish::PublishInput>()
            && let Some(to) = input.phone_number()
        {
            let attributes = input
                .message_attributes()
                .into_iter()
                .flatten()
                .map(|(name, value)| (name.clone(), value.string_value().unwrap_or_default().to_owned()))
                .collect();
            self.texts.lock().expect("sent lock").push(PublishSmsRequest { to: to.to_owned(), attributes });
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct SentEmail {
    pub to: Vec<String>,
    pub subject: String,
    /// The HTML part, decoded.
    pub body: String,
}

async fn moto_state() -> Value {
    reqwest::get(format!("{}/moto-api/data.json", moto_url())).await.unwrap().json().await.unwrap()
}

/// An email as moto accepted it.
#[derive(Debug, Clone)]
pub struct RawEmail {
    /// SES's message id, the one the message log records.
    pub id: String,
    /// The `FromEmailAddress` parameter.
    pub source: String,
    /// The MIME as sent.
    pub raw: String,
}

/// Every email moto accepted.
pub async fn raw_emails() -> Vec<RawEmail> {
    let state = moto_state().await;
    let messages = state["ses"]["RawMessage"].as_array().cloned().unwrap_or_default();
    messages
        .iter()
        .filter_map(|m| {
            let text = |field: &str| m[field].as_str().unwrap_or_default().to_owned();
            m["raw_data"].as_str().map(|raw| RawEmail { id: text("id"), source: text("source"), raw: raw.to_owned() })
        })
        .collect()
}

/// Every email sent, read from its MIME: recipients (To), subject and HTML part.
pub async fn sent_emails() -> Vec<SentEmail> {
    raw_emails().await.iter().map(|email| read_email(&email.raw)).collect()
}

fn read_email(raw: &str) -> SentEmail {
    let message = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("raw MIME");
    SentEmail {
        to: message
            .to()
            .into_iter()
            .flat_map(|to| to.iter())
            .filter_map(|to| to.address().map(str::to_owned))
            .collect(),
        subject: message.subject().unwrap_or_default().to_owned(),
        body: message.body_html(0).map(|html| html.into_owned()).unwrap_or_default(),
    }
}

pub async fn sent_sms() -> Vec<(String, String)> {
    let state = moto_state().await;
    state["sns"]["SMS"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            (
                m["phone_number"].as_str().unwrap_or_default().to_owned(),
                m["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}
