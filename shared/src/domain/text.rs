//! Text from outside (platforms, carriers, customers) made safe to store, mail and show: control
//! characters (C0 and C1, NUL and DEL included) never get past the edge. Mail relays reject NUL,
//! escape sequences would drive an operator's terminal, and a line break in a name has no place
//! in an email header. Removing them, rather than refusing the webhook, still confirms the
//! customer's order: a platform would retry a refused one for days and then give up.
//!
//! The handlers call [`CleanText::clean_text`] on every parsed event; `inbound`'s tests prove on
//! the providers' published payloads that no string field is left out.

use crate::domain::order::{Customer, LineItem, Order, Shipment, ShipmentItem, ShippingAddress};
use crate::domain::returns::{RequestedItem, Resolution, ReturnRequest};
use crate::domain::tracking::{CarrierUpdate, TrackingEvent};

/// Text that is one line: tabs and line breaks become spaces, other controls are removed.
pub fn one_line(text: &mut String) {
    if text.chars().any(char::is_control) {
        *text = text.chars().filter_map(|c| if c.is_control() { one_line_char(c) } else { Some(c) }).collect();
    }
}

fn one_line_char(c: char) -> Option<char> {
    matches!(c, '\t' | '\n' | '\r').then_some(' ')
}

/// Text that may have lines (a customer's comment): line feeds and tabs stay, a CR LF becomes a
/// line feed, other controls are removed.
pub fn multi_line(text: &mut String) {
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
        *text = text.replace("\r\n", "\n").chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect();
    }
}

/// A value read from outside whose text is cleaned in place, field by field.
pub trait CleanText {
    fn clean_text(&mut self);
}

impl CleanText for String {
    fn clean_text(&mut self) {
        one_line(self);
    }
}

impl<T: CleanText> CleanText for Option<T> {
    fn clean_text(&mut self) {
        if let Some(value) = self {
            value.clean_text();
        }
    }
}

impl<T: CleanText> CleanText for Vec<T> {
    fn clean_text(&mut self) {
        self.iter_mut().for_each(CleanText::clean_text);
    }
}

/// `clean_text` on each named field, for the structs below.
macro_rules! clean_fields {
    ($value:expr, $($field:ident),+) => {{
        $($value.$field.clean_text();)+
    }};
}

impl CleanText for Order {
    fn clean_text(&mut self) {
        clean_fields!(self, number, customer, items, shipping_address, shipping_method);
    }
}

impl CleanText for Customer {
    fn clean_text(&mut self) {
        clean_fields!(self, first_name, last_name, email, phone, locale);
    }
}

impl CleanText for LineItem {
    fn clean_text(&mut self) {
        clean_fields!(self, id, product_id, sku, title, variant, product_type, tags);
    }
}

impl CleanText for ShippingAddress {
    fn clean_text(&mut self) {
        clean_fields!(self, country, region, postal_code);
    }
}

impl CleanText for Shipment {
    fn clean_text(&mut self) {
        // The id was cleaned when it was parsed (`ShipmentId::parse`).
        clean_fields!(self, carrier, tracking_url, items);
    }
}

impl CleanText for ShipmentItem {
    fn clean_text(&mut self) {
        clean_fields!(self, line_item_id, title);
    }
}

impl CleanText for CarrierUpdate {
    fn clean_text(&mut self) {
        clean_fields!(self, carrier, events, public_url, provider_reference);
    }
}

impl CleanText for TrackingEvent {
    fn clean_text(&mut self) {
        clean_fields!(self, provider_status, message, location);
    }
}

impl CleanText for ReturnRequest {
    fn clean_text(&mut self) {
        clean_fields!(self, items, resolution);
        if let Some(comment) = &mut self.comment {
            multi_line(comment);
        }
    }
}

impl CleanText for RequestedItem {
    fn clean_text(&mut self) {
        clean_fields!(self, line_item, reason, photo_urls);
        if let Some(comment) = &mut self.comment {
            multi_line(comment);
        }
    }
}

impl CleanText for Resolution {
    fn clean_text(&mut self) {
        if let Self::Exchange { variant } = self {
            variant.clean_text();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_text_keeps_its_words_and_loses_every_control() {
        let mut name = "Ann\u{0}a\u{1b}[31m\tMarie\r\nO\u{85}'Brien\u{7f}\u{9b}".to_owned();
        one_line(&mut name);
        assert_eq!(name, "Anna[31m Marie  O'Brien");
        let mut plain = "Zoë Ünal 李".to_owned();
        one_line(&mut plain);
        assert_eq!(plain, "Zoë Ünal 李");
    }

    #[test]
    fn multi_line_text_keeps_lines_and_tabs_only() {
        let mut comment = "Too small.\r\nSleeves\tshort.\u{0}\u{7}\u{1b}\u{9f}\nThanks".to_owned();
        multi_line(&mut comment);
        assert_eq!(comment, "Too small.\nSleeves\tshort.\nThanks");
    }
}
