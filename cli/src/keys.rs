//! `ppx keys list|rotate|retire`: the customer links' keys, kept in the secret store (SSM
//! Parameter Store), so that no operator machine holds a link secret. The functions read them
//! (cached for `PPX_SECRETS_TTL_SECS`; a link of a newer key reloads them at once), only these
//! commands write them.

use crate::commands::{CommandError, to_json};
use chrono::{DateTime, Utc};
use ppx_shared::domain::link::DEFAULT_LINK_TTL_DAYS;
use ppx_shared::domain::link_keys::{KeyId, LinkKeySet, LinkKeySetError};
use ppx_shared::ports::secrets::SecretStore;
use std::fmt::Write;

impl From<LinkKeySetError> for CommandError {
    fn from(err: LinkKeySetError) -> Self {
        CommandError::Usage(err.to_string())
    }
}

/// The keys, which one signs and when each was made; never a secret.
pub async fn list(secrets: &impl SecretStore, json: bool) -> Result<String, CommandError> {
    let keys = secrets.link_keys().await?.map(|set| set.list()).unwrap_or_default();
    if json {
        return Ok(to_json(&keys));
    }
    if keys.is_empty() {
        return Ok("no link keys yet: `ppx keys rotate` makes the first\n".to_owned());
    }
    let mut out = format!("{} link key(s)\n", keys.len());
    for key in &keys {
        let role = if key.signing { "signs new links, opens its own" } else { "opens the links it signed" };
        let _ = writeln!(out, "  {} · made {} · {role}", key.id, key.created_at.format("%Y-%m-%d %H:%M UTC"));
    }
    Ok(out)
}

/// A new key that signs from now on (the first one when there is none); the others keep opening
/// the links they signed.
pub async fn rotate(secrets: &impl SecretStore, now: DateTime<Utc>) -> Result<String, CommandError> {
    let (set, id) = match secrets.link_keys().await? {
        None => {
            let set = LinkKeySet::first(LinkKeySet::fresh_secret(), now);
            let id = set.signing().clone();
            (set, id)
        }
        Some(mut set) => {
            let id = set.rotate(LinkKeySet::fresh_secret(), now)?;
            (set, id)
        }
    };
    secrets.put_link_keys(&set).await?;
    let others: Vec<String> = set.list().into_iter().filter(|k| !k.signing).map(|k| k.id.to_string()).collect();
    let mut out = format!("key {id} signs the links sent from now on (every function within 5 minutes)\n");
    if !others.is_empty() {
        let _ = writeln!(
            out,
            "{} still open(s) the links already sent; retire a key with `ppx keys retire` once its links \
             have expired ({DEFAULT_LINK_TTL_DAYS} days; unsubscribe links last 5 years), or at once if it leaked",
            others.join(", ")
        );
    }
    Ok(out)
}

/// Forgets a key: every link it signed stops opening, unsubscribe links included.
pub async fn retire(secrets: &impl SecretStore, id: &str, yes: bool) -> Result<String, CommandError> {
    let id = KeyId::parse(id).ok_or_else(|| CommandError::Usage(format!("{id:?} is not a key id (k1, k2...)")))?;
    let mut set = secrets.link_keys().await?.ok_or_else(|| CommandError::Usage("there are no link keys".into()))?;
    set.retire(&id)?;
    if !yes {
        return Err(CommandError::Usage(format!(
            "retiring key {id} breaks every link it signed (tracking, returns, surveys, unsubscribe): add --yes"
        )));
    }
    secrets.put_link_keys(&set).await?;
    Ok(format!("key {id} retired: the links it signed stop opening (every function within 5 minutes)\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ppx_shared::adapters::memory::secrets::MemorySecrets;

    #[tokio::test]
    async fn rotate_then_retire_the_old_key() {
        let secrets = MemorySecrets::new();
        let now = Utc::now();
        assert!(list(&secrets, false).await.unwrap().contains("no link keys yet"));
        assert!(rotate(&secrets, now).await.unwrap().starts_with("key k1 signs"));
        let second = rotate(&secrets, now).await.unwrap();
        assert!(second.contains("key k2 signs") && second.contains("k1 still open"), "{second}");
        let listed = list(&secrets, false).await.unwrap();
        assert!(listed.contains("k1 ·") && listed.contains("k2 ·"), "{listed}");
        let stored = secrets.link_keys().await.unwrap().unwrap().to_json();
        let secret = serde_json::from_str::<serde_json::Value>(&stored).unwrap()["keys"][0]["secret"].clone();
        assert!(!list(&secrets, true).await.unwrap().contains(secret.as_str().unwrap()), "no secret printed");

        assert!(retire(&secrets, "k2", true).await.unwrap_err().to_string().contains("signs the links sent now"));
        assert!(retire(&secrets, "k1", false).await.unwrap_err().to_string().contains("--yes"));
        assert_eq!(secrets.link_keys().await.unwrap().unwrap().list().len(), 2, "nothing retired without --yes");
        assert!(retire(&secrets, "k1", true).await.unwrap().contains("k1 retired: the links it signed stop opening"));
        assert!(retire(&secrets, "k1", true).await.unwrap_err().to_string().contains("no key k1"));
        assert!(retire(&secrets, "K1!", true).await.unwrap_err().to_string().contains("not a key id"));
    }
}
