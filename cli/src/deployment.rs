//! Where the command line works: the AWS account, region and endpoint (`--profile`, `--region`,
//! `--endpoint-url`, or the SDK's standard environment and files, SSO and `credential_process`
//! profiles included), and with `--stack` the deployed stack's outputs: its table, where the
//! customer links point, its configuration set, its alarm topic.

use crate::commands::CommandError;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use ppx_shared::adapters::aws::{CaBundleError, SdkConfig, http_client};
use std::collections::BTreeMap;

/// The table when neither `--table`, `PPX_TABLE` nor a stack names one (local runs).
pub const DEFAULT_TABLE: &str = "ppx";

/// The template's outputs the command line reads (`infra/template.yaml`, `Outputs`).
pub mod outputs {
    pub const TABLE: &str = "TableName";
    pub const CUSTOMER_LINKS: &str = "CustomerLinksBaseUrl";
    pub const CONFIGURATION_SET: &str = "MailConfigurationSetName";
    pub const ALARM_TOPIC: &str = "AlarmTopicArn";
    pub const API_URL: &str = "ApiUrl";
}

/// The global options that choose the AWS account, region and endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// The SDK configuration of the command line: the standard chain (environment, shared config
/// and credentials files with SSO and `credential_process` profiles, instance roles), with what
/// the options name winning, and the HTTPS client trusting the AWS roots (and `AWS_CA_BUNDLE`).
pub async fn sdk_config(options: &AwsOptions) -> Result<SdkConfig, CaBundleError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client()?);
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    Ok(loader.load().await)
}

/// A deployed stack's outputs, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackOutputs {
    pub stack: String,
    values: BTreeMap<String, String>,
}

impl StackOutputs {
    pub fn get(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }

    /// The deployment setting a stack output stands for, for the commands that need it.
    pub fn for_variable(&self, variable: &str) -> Option<String> {
        match variable {
            "PPX_PUBLIC_URL" => self.get(outputs::CUSTOMER_LINKS),
            "PPX_SES_CONFIGURATION_SET" => self.get(outputs::CONFIGURATION_SET),
            _ => None,
        }
    }
}

/// The outputs of stack `name` (one `DescribeStacks`).
pub async fn stack_outputs(sdk: &SdkConfig, name: &str) -> Result<StackOutputs, CommandError> {
    let client = aws_sdk_cloudformation::Client::new(sdk);
    let out = client.describe_stacks().stack_name(name).send().await.map_err(|err| {
        let region = sdk.region().map_or_else(|| "the region".to_owned(), |r| r.to_string());
        match err.code() {
            Some("ValidationError") => CommandError::Usage(format!(
                "stack {name} does not exist in {region}; check --stack (or PPX_STACK) and --region"
            )),
            _ => CommandError::Usage(format!(
                "cannot read stack {name} in {region}: {}",
                err.message().map_or_else(|| err.to_string(), str::to_owned)
            )),
        }
    })?;
    let stack = out.stacks().first().ok_or_else(|| CommandError::Usage(format!("stack {name} does not exist")))?;
    let values = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    Ok(StackOutputs { stack: name.to_owned(), values })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IAM Identity Center profile resolves through the SSO provider (here: no cached token,
    /// so it fails saying so) instead of "requires cargo feature sso", and a credential_process
    /// profile runs its process.
    #[tokio::test]
    async fn sso_and_credential_process_profiles_are_understood() {
        use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
        let dir = std::env::temp_dir().join(format!("ppx-profiles-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config");
        std::fs::write(
            &config,
            "[profile sso-operator]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n\
             sso_account_id = 123456789012\nsso_role_name = Operator\nregion = us-east-1\n\
             [profile process-operator]\ncredential_process = echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROCESS\", \
             \"SecretAccessKey\": \"secret\"}'\nregion = us-east-1\n",
        )
        .unwrap();
        let files = EnvConfigFiles::builder().with_file(EnvConfigFileKind::Config, &config).build();
        // The profile provider of the default chain, alone: credentials in the environment
        // (`make test` exports moto's) would come first in the whole chain.
        let provider = |profile: &'static str| {
            let config =
                aws_config::provider_config::ProviderConfig::without_region().with_http_client(http_client().unwrap());
            aws_config::profile::ProfileFileCredentialsProvider::builder()
                .configure(&config)
                .profile_files(files.clone())
                .profile_name(profile)
                .build()
        };
        use aws_credential_types::provider::ProvideCredentials as _;
        let err = provider("sso-operator").provide_credentials().await.unwrap_err();
        let said = format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&err));
        assert!(!said.contains("feature"), "{said}");
        assert!(said.to_lowercase().contains("sso") || said.contains("token"), "{said}");

        let credentials = provider("process-operator").provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "AKIDPROCESS");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn stack_outputs_stand_for_the_settings_they_carry() {
        let outputs = StackOutputs {
            stack: "shop".into(),
            values: BTreeMap::from([
                (outputs::CUSTOMER_LINKS.to_owned(), "https://track.example.com".to_owned()),
                (outputs::TABLE.to_owned(), "shop-Table-1".to_owned()),
            ]),
        };
        assert_eq!(outputs.for_variable("PPX_PUBLIC_URL").as_deref(), Some("https://track.example.com"));
        assert_eq!(outputs.for_variable("PPX_LINK_SECRET"), None, "never from a stack's outputs");
        assert_eq!(outputs.get(outputs::TABLE).as_deref(), Some("shop-Table-1"));
    }
}
