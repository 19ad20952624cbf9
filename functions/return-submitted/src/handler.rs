//! `POST /returns/{shop}`: a return request from the shop's own portal (signed like the generic
//! order format) or from the customer (the sealed returns link of their emails). Authenticated
//! before anything is parsed; decided by the shop's policy; idempotent per idempotency key.

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use ppx_shared::app::context::{App, Ports};
use ppx_shared::app::link_keys::LinksUnavailable;
use ppx_shared::app::portal::{PortalError, portal_page, request_from_form};
use ppx_shared::app::return_flow::{ReturnError, Submitted};
use ppx_shared::domain::link::LinkPurpose;
use ppx_shared::domain::returns::{RequestError, Return, ReturnRequest};
use ppx_shared::domain::settings::{ShopSettings, WebhookSource};
use ppx_shared::http::auth::{authenticate_customer, authenticate_webhook, bearer_token};
use ppx_shared::http::edge::{EdgeError, check_body_size, html_response, is_json_content_type, json_response};
use ppx_shared::http::routes::{Function, match_route};
use ppx_shared::http::signature::SignatureError;
use ppx_shared::inbound::from_json_object;
use ppx_shared::ports::clock::Clock;
use ppx_shared::ports::store::OrderStore;
use ppx_shared::render::{Page, TemplateError, or_default_templates, render_page, render_return_result};
use serde_json::json;
use sha2::Digest;
use tracing::{Instrument, field};

/// Portal forms are small; anything bigger is not ours.
const MAX_FORM_BYTES: usize = 64 * 1024;
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The function over its application context (one type parameter: its ports).
pub struct ReturnSubmitted<P: Ports> {
    app: App<P>,
}

impl<P: Ports> std::ops::Deref for ReturnSubmitted<P> {
    type Target = App<P>;
    fn deref(&self) -> &App<P> {
        &self.app
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    header(headers, http::header::CONTENT_TYPE.as_str())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Who is asking: the shop's portal (any of its orders) or a customer (one order).
enum Caller {
    Shop,
    Customer { order: ppx_shared::domain::ids::OrderId },
}

/// What the portal shows: the decision per item with its reasons in words.
pub fn decision_body(ret: &Return) -> serde_json::Value {
    json!({
        "return_id": ret.id,
        "state": ret.state,
        "verdict": ret.decision.verdict,
        "amount": ret.decision.amount.to_string(),
        "resolution": ret.request.resolution,
        "items": ret.decision.items.iter().map(|item| json!({
            "line_item": item.line_item,
            "title": item.title,
            "quantity": item.quantity,
            "verdict": item.verdict,
            "reasons": item.rules.iter().map(|r| r.customer_text()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "reasons": ret.decision.rules.iter().map(|r| r.customer_text()).collect::<Vec<_>>(),
    })
}

impl<P: Ports> ReturnSubmitted<P> {
    pub fn new(app: App<P>) -> Self {
        Self { app }
    }

    pub async fn handle(&self, request: Request<Bytes>, request_id: &str) -> Response<String> {
        let span = tracing::info_span!("return_submitted", request_id, shop = field::Empty, order_id = field::Empty);
        if is_form(request.headers()) {
            return self.portal_submit(&request).instrument(span).await;
        }
        async {
            match self.process(&request).await {
                Ok(Submitted { ret, created }) => {
                    tracing::info!(return_id = %ret.id, state = ret.state.as_str(), created, "return request accepted");
                    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
                    json_response(status, &decision_body(&ret))
                }
                Err(err) => err.log_and_respond("return request"),
            }
        }
        .instrument(span)
        .await
    }

    /// The returns portal's plain form post to `/returns/{token}`: answers with a page.
    async fn portal_submit(&self, request: &Request<Bytes>) -> Response<String> {
        let page = |status: StatusCode, page: Result<String, TemplateError>| match page {
            Ok(page) => html_response(status, page),
            Err(err) => {
                tracing::error!(error = %err, "page template failed");
                html_response(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.".to_owned())
            }
        };
        let not_found = || page(StatusCode::NOT_FOUND, render_page(None, &Page::NotFound));
        let unavailable = |settings: &ShopSettings| {
            let message = "Something went wrong on our side. Please try again in a minute.";
            let invalid = Page::Invalid { message };
            let rendered = or_default_templates(settings, invalid.template_name(), |s| render_page(Some(s), &invalid));
            page(StatusCode::SERVICE_UNAVAILABLE, rendered)
        };
        let Ok(route) = match_route(Function::ReturnSubmitted, request.method(), request.uri().path()) else {
            return not_found();
        };
        let token = route.param;
        let now = self.clock.now();
        let body = request.body();
        if body.len() > MAX_FORM_BYTES {
            return not_found();
        }
        let links = match self.links_for(token).await {
            Ok(links) => links,
            // Without any key no link was ever sent: this one is not ours.
            Err(err @ LinksUnavailable::NoKey) => {
                tracing::error!(error = %err, "return form refused");
                return not_found();
            }
            Err(err) => {
                tracing::error!(error = %err, "link keys unavailable");
                return html_response(StatusCode::SERVICE_UNAVAILABLE, "Please try again in a minute.".to_owned());
            }
        };
        let Ok(claims) = links.keys().open(token, LinkPurpose::Return, now) else { return not_found() };
        let span = tracing::Span::current();
        span.record("shop", claims.shop.as_str());
        span.record("order_id", claims.order.as_str());
        let settings = match self.settings.get(&self.store, &claims.shop, now).await {
            Ok(Some(settings)) => settings,
            Ok(None) => return not_found(),
            Err(err) => {
                tracing::error!(error = %err, "settings unavailable");
                return html_response(StatusCode::SERVICE_UNAVAILABLE, "Please try again in a minute.".to_owned());
            }
        };
        let action = format!("/returns/{token}");
        let (settings_ref, order_id, action_ref) = (&settings, &claims.order, &action);
        let retry = |message: String| async move {
            match portal_page(&self.store, settings_ref, order_id, action_ref, Some(&message), now).await {
                Ok(portal) => html_response(StatusCode::BAD_REQUEST, portal),
                Err(PortalError::OrderNotFound) => not_found(),
                Err(err) => {
                    tracing::error!(error = %err, "returns portal failed");
                    unavailable(settings_ref)
                }
            }
        };
        let (return_request, key) = match request_from_form(&claims.order, body) {
            Ok(parsed) => parsed,
            Err(message) => return retry(message.to_owned()).await,
        };
        let key = key.unwrap_or_else(|| hex::encode(sha2::Sha256::digest(body)));
        match self.returns().submit(&settings, return_request, &key).await {
            Ok(Submitted { ret, created }) => {
                tracing::info!(
                    return_id = %ret.id,
                    state = ret.state.as_str(),
                    created,
                    "return requested in the portal"
                );
                let Ok(Some(order)) = self.store.get_order(&settings.shop, &claims.order).await else {
                    return unavailable(&settings);
                };
                let result = or_default_templates(&settings, "return_result.html", |s| {
                    render_return_result(s, &order, &ret, &action)
                });
                page(StatusCode::OK, result)
            }
            Err(ReturnError::Request(RequestError::Field { problem, .. })) => {
                retry(format!("Please check your choices: {problem}")).await
            }
            Err(ReturnError::OrderNotFound) => not_found(),
            Err(err) => {
                tracing::error!(error = %err, "return request failed");
                unavailable(&settings)
            }
        }
    }

    async fn process(&self, request: &Request<Bytes>) -> Result<Submitted, EdgeError> {
        let shop = match_route(Function::ReturnSubmitted, request.method(), request.uri().path())?.param;
        let body = request.body();
        check_body_size(body.len())?;
        tracing::Span::current().record("shop", shop);
        let now = self.clock.now();
        let settings = self.settings.resolve(&self.store, shop, now).await?;
        let headers = request.headers();

        // Authenticate before anything is parsed or stored: a customer's returns link, or the
        // shop's signature.
        let caller = match bearer_token(request)? {
            Some(token) => {
                let links = self.links_for(token).await?;
                let claims = authenticate_customer(links.keys(), token, &settings.shop, LinkPurpose::Return, now)?;
                Caller::Customer { order: claims.order }
            }
            None => {
                let secrets = self.secrets_of(&settings.shop).await?;
                authenticate_webhook(WebhookSource::Orders, &settings, &secrets, request, now)?;
                Caller::Shop
            }
        };
        if !is_json_content_type(headers.get(http::header::CONTENT_TYPE)) {
            return Err(EdgeError::UnsupportedMediaType);
        }
        let return_request: ReturnRequest = from_json_object(body)?;
        tracing::Span::current().record("order_id", return_request.order_id.as_str());
        if let Caller::Customer { order } = &caller
            && *order != return_request.order_id
        {
            // A customer's link opens returns for its own order only.
            return Err(EdgeError::Signature { header: "Authorization", error: SignatureError::Mismatch });
        }
        // The client's key, or the body itself: a retried identical request is the same return.
        let key = match header(headers, IDEMPOTENCY_KEY).filter(|k| !k.trim().is_empty() && k.len() <= 200) {
            Some(key) => key.trim().to_owned(),
            None => hex::encode(sha2::Sha256::digest(body)),
        };
        Ok(self.returns().submit(&settings, return_request, &key).await?)
    }
}
