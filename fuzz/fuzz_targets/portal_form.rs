//! `portal::request_from_form(order, form)`: the returns portal's urlencoded form post.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ppx_fuzz::assert_trimmed;
use ppx_shared::domain::ids::OrderId;
use ppx_shared::app::portal::request_from_form;
use ppx_shared::domain::returns::Resolution;

fuzz_target!(|form: &[u8]| {
    let order = OrderId::parse("1001").unwrap();
    let result = request_from_form(&order, form);
    assert_eq!(result, request_from_form(&order, form), "parsing is deterministic");
    let (request, key) = match result {
        Ok(parsed) => parsed,
        Err(sentence) => {
            assert!(sentence.ends_with('.'), "errors are sentences for the customer: {sentence:?}");
            return;
        }
    };
    let fields: Vec<(String, String)> = form_urlencoded::parse(form).into_owned().collect();
    let first = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());

    assert_eq!(request.order_id, order);
    assert!(!request.items.is_empty(), "a request returns something");
    let asked: Vec<(&str, u32)> = fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("qty_")?, v.trim().parse::<u32>().ok()?)))
        .filter(|(_, quantity)| *quantity > 0)
        .collect();
    let got: Vec<(&str, u32)> = request.items.iter().map(|i| (i.line_item.as_str(), i.quantity)).collect();
    assert_eq!(got, asked, "one item per non-zero qty_ field, in form order");
    for item in &request.items {
        assert_trimmed("reason", Some(&item.reason));
        assert_eq!(Some(item.reason.as_str()), first(&format!("reason_{}", item.line_item)));
        assert_trimmed("comment", item.comment.as_deref());
        assert!(item.photo_urls.len() <= 1);
        item.photo_urls.iter().for_each(|url| assert_trimmed("photo", Some(url)));
    }
    match &request.resolution {
        Resolution::Refund => assert!(matches!(first("resolution"), None | Some("" | "refund"))),
        Resolution::StoreCredit => assert_eq!(first("resolution"), Some("store_credit")),
        Resolution::Exchange { variant } => {
            assert_eq!(first("resolution"), Some("exchange"));
            assert_trimmed("exchange_variant", Some(variant));
        }
    }
    if let Some(key) = key {
        assert_trimmed("idempotency_key", Some(&key));
        assert!(key.len() <= 200, "idempotency keys are bounded");
    }
});
