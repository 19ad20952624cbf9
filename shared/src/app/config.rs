//! Typed deployment settings, read once per cold start from the environment.

use crate::domain::settings::{Secret, StackHome};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: &'static str },
}

#[derive(Debug, Clone)]
pub struct AppConfig {
    /// `PPX_TABLE`
    pub table: String,
    /// `PPX_LINK_SECRET` (optional, at least 32 characters): the single key of versions before
    /// 0.3. It opens the links it sealed (they carry no key id), and signs until the link keys of
    /// `ppx keys rotate` exist; unset or empty, the link keys alone are used.
    pub link_secret: Option<Secret>,
    /// `PPX_PUBLIC_URL`: where `/track/...` and `/returns/...` are served.
    pub public_url: String,
    /// `PPX_SETTINGS_TTL_SECS` (default 60): how long a cold start trusts cached shop settings.
    pub settings_ttl: Duration,
    /// `PPX_SECRETS_TTL_SECS` (default 300): how long a cold start trusts cached shop secrets; a
    /// secret changed with `ppx shop put` is in use everywhere within this long.
    pub secrets_ttl: Duration,
    /// Where the stack runs (`PPX_ACCOUNT_ID` from the template, `AWS_REGION` from Lambda).
    pub home: StackHome,
    /// `PPX_SES_CONFIGURATION_SET`: the stack's SES configuration set, whose event destination
    /// brings bounces, complaints and deliveries back (`mail-feedback`); emails of a shop that
    /// names no set of its own go through it.
    pub ses_configuration_set: Option<String>,
}

impl AppConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table = lookup("PPX_TABLE").filter(|t| !t.is_empty()).ok_or(ConfigError::Missing("PPX_TABLE"))?;
        let link_secret = lookup("PPX_LINK_SECRET").filter(|s| !s.is_empty());
        if link_secret.as_ref().is_some_and(|secret| secret.len() < 32) {
            return Err(ConfigError::Invalid { name: "PPX_LINK_SECRET", reason: "must be at least 32 characters" });
        }
        let public_url = lookup("PPX_PUBLIC_URL").ok_or(ConfigError::Missing("PPX_PUBLIC_URL"))?;
        if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
            return Err(ConfigError::Invalid { name: "PPX_PUBLIC_URL", reason: "must be an http(s) URL" });
        }
        let seconds = |name: &'static str, default: u64| match lookup(name) {
            None => Ok(Duration::from_secs(default)),
            Some(raw) => raw
                .parse()
                .map(Duration::from_secs)
                .map_err(|_| ConfigError::Invalid { name, reason: "must be a whole number of seconds" }),
        };
        let settings_ttl = seconds("PPX_SETTINGS_TTL_SECS", 60)?;
        let secrets_ttl = seconds("PPX_SECRETS_TTL_SECS", 300)?;
        let home = StackHome {
            account: lookup("PPX_ACCOUNT_ID").filter(|a| !a.is_empty()),
            region: lookup("AWS_REGION").filter(|r| !r.is_empty()),
        };
        let ses_configuration_set = lookup("PPX_SES_CONFIGURATION_SET").filter(|s| !s.is_empty());
        Ok(Self {
            table,
            link_secret: link_secret.map(Secret::new),
            public_url,
            settings_ttl,
            secrets_ttl,
            home,
            ses_configuration_set,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn reads_and_validates() {
        let secret = "0123456789abcdef0123456789abcdef";
        let ok = lookup(&[("PPX_TABLE", "ppx"), ("PPX_LINK_SECRET", secret), ("PPX_PUBLIC_URL", "https://t.example")]);
        let config = AppConfig::from_lookup(ok).unwrap();
        assert_eq!(config.settings_ttl, Duration::from_secs(60));
        assert!(config.link_secret.is_some());
        let keyless = lookup(&[("PPX_TABLE", "ppx"), ("PPX_LINK_SECRET", ""), ("PPX_PUBLIC_URL", "https://t")]);
        assert!(AppConfig::from_lookup(keyless).unwrap().link_secret.is_none(), "the link keys alone");
        assert_eq!(AppConfig::from_lookup(lookup(&[])).unwrap_err(), ConfigError::Missing("PPX_TABLE"));
        let short = lookup(&[("PPX_TABLE", "ppx"), ("PPX_LINK_SECRET", "short"), ("PPX_PUBLIC_URL", "https://t")]);
        assert!(matches!(AppConfig::from_lookup(short), Err(ConfigError::Invalid { name: "PPX_LINK_SECRET", .. })));
        let ttl = lookup(&[
            ("PPX_TABLE", "ppx"),
            ("PPX_LINK_SECRET", secret),
            ("PPX_PUBLIC_URL", "https://t"),
            ("PPX_SETTINGS_TTL_SECS", "soon"),
        ]);
        assert!(matches!(AppConfig::from_lookup(ttl), Err(ConfigError::Invalid { name: "PPX_SETTINGS_TTL_SECS", .. })));
    }
}
