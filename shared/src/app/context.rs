//! One application context: the ports a function runs over, named by one type, with what every
//! use case needs beside them (the shops' settings and secrets caches, the link keys). A handler
//! holds an [`App`] and takes one type parameter; the use cases are borrowed from it
//! ([`App::outbox`], [`App::journey`], [`App::returns`]).

use crate::app::config::AppConfig;
use crate::app::journey::Journey;
use crate::app::link_keys::{LinkKeysCache, LinksUnavailable};
use crate::app::outbox::Outbox;
use crate::app::privacy::Privacy;
use crate::app::return_flow::ReturnFlow;
use crate::app::settings_cache::{SecretsCache, SettingsCache};
use crate::app::watch::ParcelWatch;
use crate::domain::ids::ShopId;
use crate::domain::link::CustomerLinks;
use crate::domain::settings::ShopSecrets;
use crate::ports::clock::Clock;
use crate::ports::messaging::{EmailSender, EventPublisher, SmsSender};
use crate::ports::secrets::{SecretStore, SecretsError};
use crate::ports::store::Store;
use std::marker::PhantomData;
use std::sync::Arc;

/// The adapters of the six ports, as types.
pub trait Ports: 'static {
    type Store: Store;
    type Secrets: SecretStore;
    type Email: EmailSender;
    type Sms: SmsSender;
    type Events: EventPublisher;
    type Clock: Clock;
}

/// [`Ports`] from its six adapter types, e.g. `PortsOf<DynamoStore, NoSecrets, SesEmail, NoSms,
/// NoEvents, SystemClock>` for a function that verifies no signature and sends email only.
/// A type-level name only: never built, so it needs no `Send`/`Sync` of its parts.
pub struct PortsOf<S, K, E, T, V, C>(PhantomData<AdapterTypes<S, K, E, T, V, C>>);
type AdapterTypes<S, K, E, T, V, C> = fn() -> (S, K, E, T, V, C);

impl<S, K, E, T, V, C> Ports for PortsOf<S, K, E, T, V, C>
where
    S: Store + 'static,
    K: SecretStore + 'static,
    E: EmailSender + 'static,
    T: SmsSender + 'static,
    V: EventPublisher + 'static,
    C: Clock + 'static,
{
    type Store = S;
    type Secrets = K;
    type Email = E;
    type Sms = T;
    type Events = V;
    type Clock = C;
}

/// The adapters themselves, to build an [`App`] from.
pub struct Adapters<P: Ports> {
    pub store: P::Store,
    pub secrets: P::Secrets,
    pub email: P::Email,
    pub sms: P::Sms,
    pub events: P::Events,
    pub clock: P::Clock,
}

/// The application context of one function: its adapters (built once per cold start), the
/// shops' settings and secrets caches and the link keys.
pub struct App<P: Ports> {
    pub store: P::Store,
    pub secrets: P::Secrets,
    pub email: P::Email,
    pub sms: P::Sms,
    pub events: P::Events,
    pub clock: P::Clock,
    pub settings: SettingsCache,
    pub shop_secrets: SecretsCache,
    pub link_keys: LinkKeysCache,
}

impl<P: Ports> App<P> {
    pub fn new(adapters: Adapters<P>, config: &AppConfig) -> Self {
        let Adapters { store, secrets, email, sms, events, clock } = adapters;
        Self {
            store,
            secrets,
            email,
            sms,
            events,
            clock,
            settings: SettingsCache::new(config.settings_ttl),
            shop_secrets: SecretsCache::new(config.secrets_ttl),
            link_keys: LinkKeysCache::new(config),
        }
    }

    /// The shop's secrets to verify its webhooks with, cached per cold start for
    /// `PPX_SECRETS_TTL_SECS`; none stored is none configured.
    pub async fn secrets_of(&self, shop: &ShopId) -> Result<Arc<ShopSecrets>, SecretsError> {
        let now = self.clock.now();
        Ok(self.shop_secrets.get_or_load(shop, now, self.secrets.shop_secrets(shop)).await?.unwrap_or_default())
    }

    /// The customer links to build messages with (the link keys, cached per cold start).
    pub async fn links(&self) -> Result<Arc<CustomerLinks>, LinksUnavailable> {
        self.link_keys.current(&self.secrets, self.clock.now()).await
    }

    /// The customer links to open `token` with (reloaded first if it names a newer key).
    pub async fn links_for(&self, token: &str) -> Result<Arc<CustomerLinks>, LinksUnavailable> {
        self.link_keys.for_token(&self.secrets, token, self.clock.now()).await
    }

    /// Messages about orders, each claimed, sent and recorded once.
    pub fn outbox(&self) -> Outbox<'_, P> {
        Outbox {
            store: &self.store,
            email: &self.email,
            sms: &self.sms,
            clock: &self.clock,
            secrets: &self.secrets,
            link_keys: &self.link_keys,
        }
    }

    /// Parcels' journeys: carrier updates applied and announced.
    pub fn journey(&self) -> Journey<'_, P> {
        Journey { outbox: self.outbox() }
    }

    /// Returns: submitted, decided, moved on, each state told once.
    pub fn returns(&self) -> ReturnFlow<'_, P> {
        ReturnFlow { outbox: self.outbox(), events: &self.events }
    }

    /// Privacy requests: a customer's data, forgetting a customer or a shop.
    pub fn privacy(&self) -> Privacy<'_, P::Store, P::Clock> {
        Privacy { store: &self.store, clock: &self.clock }
    }

    /// Parcels between scans: stalls and tracking numbers never scanned, each told once.
    pub fn parcel_watch(&self) -> ParcelWatch<'_, P> {
        ParcelWatch { outbox: self.outbox(), events: &self.events }
    }
}
