//! Wire names from one source. An enum whose variants are stored or sent by name (in DynamoDB
//! items, JSON, URLs, logs, CLI arguments) lists each variant once with its name, and
//! `wire_enum!` gives serde, `as_str`, `parse`, `ALL` and `Display` that one name: a hand-written
//! table beside `#[serde(rename_all)]` could drift from it, and stored data would stop reading.

/// Declares a fieldless enum whose every variant is written `Variant = "wire_name"`, and gives it:
/// - `#[serde(rename = "wire_name")]` on each variant, so serde writes and reads that name (the
///   enum must derive `Serialize` and/or `Deserialize`; no `rename_all` is needed);
/// - `pub const ALL: [Self; N]`, every variant in declaration order;
/// - `pub const fn as_str(self) -> &'static str` and `pub fn parse(raw: &str) -> Option<Self>`;
/// - `impl Display`, which writes `as_str`.
///
/// A variant without a name does not compile, nor do two variants with the same name. The enum's
/// own attributes and each variant's (doc comments, `#[default]`, `#[serde(alias = ...)]`...) are
/// kept as written; `parse` knows only the wire names, not serde aliases.
///
/// ```ignore
/// wire_enum! {
///     /// Doc comment of the enum.
///     #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
///     pub enum Channel {
///         Email = "email",
///         /// Doc comment of a variant.
///         ShopEvent = "shop_event",
///     }
/// }
/// ```
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $wire:literal
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                #[serde(rename = $wire)]
                $variant,
            )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [Self; [$($wire),+].len()] = [$(Self::$variant),+];

            /// The name serde writes and reads.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                }
            }

            /// The variant of a name [`Self::as_str`] gives.
            pub fn parse(raw: &str) -> Option<Self> {
                match raw {
                    $($wire => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        const _: () = assert!(
            $crate::domain::names::all_distinct(&[$($wire),+]),
            concat!(stringify!($name), ": two variants have the same wire name"),
        );
    };
}
pub(crate) use wire_enum;

/// Whether no two of `names` are equal (checked at compile time by `wire_enum!`).
pub(crate) const fn all_distinct(names: &[&str]) -> bool {
    let mut i = 0;
    while i < names.len() {
        let mut j = i + 1;
        while j < names.len() {
            if same(names[i].as_bytes(), names[j].as_bytes()) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::{Channel, DeliveryState, MessageKind};
    use crate::domain::returns::{ReturnState, Verdict};
    use crate::domain::settings::WebhookSource;
    use crate::domain::tracking::TrackingStatus;
    use crate::ports::store::SkipReason;
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use std::collections::BTreeSet;
    use std::fmt::{Debug, Display};

    /// `OutForDelivery` -> `out_for_delivery`, as `#[serde(rename_all = "snake_case")]` spells it.
    fn snake_case(variant: &str) -> String {
        let mut out = String::new();
        for (i, c) in variant.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    /// Every variant's name: serde writes it, reads it back, `parse` and `Display` agree, and it
    /// is still the snake_case name `rename_all` gave before (stored items hold these names).
    fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str, parse: fn(&str) -> Option<T>)
    where
        T: Copy + Debug + Display + PartialEq + Serialize + DeserializeOwned,
    {
        let mut names = BTreeSet::new();
        for &v in all {
            let name = as_str(v);
            assert!(names.insert(name), "{v:?}: {name} twice");
            let quoted = format!("\"{name}\"");
            assert_eq!(serde_json::to_string(&v).unwrap(), quoted, "{v:?}");
            assert_eq!(serde_json::from_str::<T>(&quoted).unwrap(), v, "{v:?}");
            assert_eq!(parse(name), Some(v), "{v:?}");
            assert_eq!(v.to_string(), name, "{v:?}");
            assert_eq!(name, snake_case(&format!("{v:?}")), "{v:?}");
        }
        for unknown in ["", "nonsense", &format!("{}_", as_str(all[0])), &as_str(all[0]).to_uppercase()] {
            assert_eq!(parse(unknown), None, "{unknown:?}");
            assert!(serde_json::from_str::<T>(&format!("\"{unknown}\"")).is_err(), "{unknown:?}");
        }
    }

    #[test]
    fn every_wire_enum_round_trips_its_names() {
        round_trips(&MessageKind::ALL, MessageKind::as_str, MessageKind::parse);
        round_trips(&Channel::ALL, Channel::as_str, Channel::parse);
        round_trips(&DeliveryState::ALL, DeliveryState::as_str, DeliveryState::parse);
        round_trips(&TrackingStatus::ALL, TrackingStatus::as_str, TrackingStatus::parse);
        round_trips(&ReturnState::ALL, ReturnState::as_str, ReturnState::parse);
        round_trips(&Verdict::ALL, Verdict::as_str, Verdict::parse);
        round_trips(&WebhookSource::ALL, WebhookSource::as_str, WebhookSource::parse);
        round_trips(&SkipReason::ALL, SkipReason::as_str, SkipReason::parse);
    }

    #[test]
    fn all_is_in_declaration_order() {
        // `ALL` comes from the same list as the enum, so it has every variant; declaration order
        // is also what the derived `Ord` sorts by.
        fn sorted<T: Ord + Copy + Debug>(all: &[T]) {
            assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
        }
        sorted(&MessageKind::ALL);
        sorted(&Channel::ALL);
        sorted(&TrackingStatus::ALL);
        sorted(&ReturnState::ALL);
        sorted(&Verdict::ALL);
        sorted(&WebhookSource::ALL);
        sorted(&SkipReason::ALL);
    }

    #[test]
    fn duplicate_names_are_found() {
        assert!(all_distinct(&[]) && all_distinct(&["a"]) && all_distinct(&["a", "ab", "b", "ba"]));
        assert!(!all_distinct(&["a", "b", "a"]) && !all_distinct(&["in_transit", "in_transit"]));
    }
}
