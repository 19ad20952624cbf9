//! Customer pages behind sealed links: NPS answers (the email's score link shows the answer, a
//! form POST confirms it, with an optional comment), and
//! unsubscribe (a confirmation page, and RFC 8058 one-click POST). A wrong, expired or tampered
//! link gets a friendly 404 page that leaks nothing.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use ppx_shared::app::context::{App, Ports};
use ppx_shared::app::link_keys::LinksUnavailable;
use ppx_shared::app::portal::{PortalError, portal_page};
use ppx_shared::domain::link::{LinkClaims, LinkPurpose};
use ppx_shared::domain::settings::ShopSettings;
use ppx_shared::http::edge::html_response;
use ppx_shared::http::routes::{Function, Target, match_path};
use ppx_shared::ports::clock::Clock;
use ppx_shared::ports::store::{ConsentStore, OrderStore, ReviewStore};
use ppx_shared::ports::store::{StoreError, SurveyAnswer};
use ppx_shared::render::{
    COMMENT_MAX_CHARS, Page, TemplateError, TrackedOrder, or_default_templates, render_page, render_tracking_page,
};
use std::sync::Arc;
use tracing::{Instrument, field};

/// Form posts are small; anything bigger is not ours.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The customer pages over their application context: they read and answer (no email, SMS or
/// events ports: `NoEmail`, `NoSms`, `NoEvents`).
pub struct Pages<P: Ports> {
    app: App<P>,
}

impl<P: Ports> std::ops::Deref for Pages<P> {
    type Target = App<P>;
    fn deref(&self) -> &App<P> {
        &self.app
    }
}

#[derive(Debug, thiserror::Error)]
enum PageError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Links(#[from] LinksUnavailable),
}

struct Rendered {
    status: StatusCode,
    page: String,
}

/// A page in the shop's look, with its overrides or, when one fails, the defaults.
fn page_for(settings: Option<&ShopSettings>, page: &Page<'_>) -> Result<String, TemplateError> {
    match settings {
        Some(settings) => or_default_templates(settings, page.template_name(), |s| render_page(Some(s), page)),
        None => render_page(None, page),
    }
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

fn parse_score(raw: Option<String>) -> Result<u8, PageError> {
    raw.and_then(|s| s.trim().parse::<u8>().ok())
        .filter(|score| *score <= 10)
        .ok_or(PageError::Invalid("Please choose a score from 0 to 10."))
}

impl<P: Ports> Pages<P> {
    pub fn new(app: App<P>) -> Self {
        Self { app }
    }

    pub async fn handle(&self, request: Request<Bytes>, request_id: &str) -> Response<String> {
        let span =
            tracing::info_span!("page", request_id, shop = field::Empty, order_id = field::Empty, page = field::Empty);
        async {
            let mut settings = None;
            let result = self.process(&request, &mut settings).await;
            let rendered = match result {
                Ok(rendered) => Ok(rendered),
                Err(PageError::NotFound) => {
                    render_page(None, &Page::NotFound).map(|page| Rendered { status: StatusCode::NOT_FOUND, page })
                }
                Err(PageError::Invalid(message)) => page_for(settings.as_deref(), &Page::Invalid { message })
                    .map(|page| Rendered { status: StatusCode::BAD_REQUEST, page }),
                Err(PageError::MethodNotAllowed) => render_page(None, &Page::NotFound)
                    .map(|page| Rendered { status: StatusCode::METHOD_NOT_ALLOWED, page }),
                // Without any key no link was ever sent: the customer's link is not one of ours.
                Err(err @ PageError::Links(LinksUnavailable::NoKey)) => {
                    tracing::error!(error = %err, "page failed");
                    render_page(None, &Page::NotFound).map(|page| Rendered { status: StatusCode::NOT_FOUND, page })
                }
                Err(err @ (PageError::Store(_) | PageError::Links(_))) => {
                    tracing::error!(error = %err, "page failed");
                    page_for(
                        settings.as_deref(),
                        &Page::Invalid { message: "Something went wrong on our side. Please try again in a minute." },
                    )
                    .map(|page| Rendered { status: StatusCode::SERVICE_UNAVAILABLE, page })
                }
            };
            match rendered {
                Ok(rendered) => html_response(rendered.status, rendered.page),
                Err(err) => {
                    tracing::error!(error = %err, "page template failed");
                    html_response(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.".to_owned())
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn process(
        &self,
        request: &Request<Bytes>,
        settings_out: &mut Option<Arc<ShopSettings>>,
    ) -> Result<Rendered, PageError> {
        let route = match_path(Function::Pages, request.uri().path()).ok_or(PageError::NotFound)?;
        let (Target::Link(purpose), token) = (route.route.target, route.param) else {
            return Err(PageError::NotFound);
        };
        tracing::Span::current().record("page", purpose.path());
        let now = self.clock.now();
        let links = self.links_for(token).await?;
        let claims = links.keys().open(token, purpose, now).map_err(|_| PageError::NotFound)?;
        let span = tracing::Span::current();
        span.record("shop", claims.shop.as_str());
        span.record("order_id", claims.order.as_str());
        let settings = self.settings.get(&self.store, &claims.shop, now).await?.ok_or(PageError::NotFound)?;
        *settings_out = Some(settings.clone());
        let body = request.body();
        if body.len() > MAX_FORM_BYTES {
            return Err(PageError::Invalid("That form was too large."));
        }
        let action = format!("/{}/{token}", purpose.path());
        if matches!(purpose, LinkPurpose::Track | LinkPurpose::Return) {
            if request.method() != Method::GET {
                return Err(PageError::MethodNotAllowed);
            }
            let page = if purpose == LinkPurpose::Track {
                let view = self.store.order_view(&claims.shop, &claims.order).await?;
                let Some(order) = &view.order else { return Err(PageError::NotFound) };
                let tracked = TrackedOrder { order, shipments: view.shipments_with_tracking() };
                or_default_templates(&settings, "tracking_page.html", |s| render_tracking_page(s, &tracked, now))
                    .map_err(|err| {
                        tracing::error!(error = %err, "page template failed");
                        PageError::Invalid("Something went wrong on our side.")
                    })?
            } else {
                match portal_page(&self.store, &settings, &claims.order, &action, None, now).await {
                    Ok(page) => page,
                    Err(PortalError::OrderNotFound) => return Err(PageError::NotFound),
                    Err(PortalError::Store(err)) => return Err(PageError::Store(err)),
                    Err(PortalError::Template(err)) => {
                        tracing::error!(error = %err, "page template failed");
                        return Err(PageError::Invalid("Something went wrong on our side."));
                    }
                }
            };
            return Ok(Rendered { status: StatusCode::OK, page });
        }
        let page = match (purpose, request.method().clone()) {
            // A GET never records: mail scanners and link previews open every score link. It
            // shows the chosen score to confirm with a plain form POST.
            (LinkPurpose::Survey, Method::GET) => {
                let score = parse_score(request.uri().query().and_then(|q| form_field(q.as_bytes(), "score")))?;
                Page::SurveyConfirm { score, action: &action }
            }
            (LinkPurpose::Survey, Method::POST) => {
                let score = parse_score(form_field(body, "score"))?;
                let comment = form_field(body, "comment")
                    .map(|c| c.trim().chars().take(COMMENT_MAX_CHARS).collect::<String>())
                    .filter(|c| !c.is_empty());
                let comment_saved = comment.is_some();
                self.record_answer(&claims, score, comment).await?;
                Page::SurveyThanks { score, comment_action: &action, comment_saved }
            }
            (LinkPurpose::Unsubscribe, Method::GET) => Page::UnsubscribeConfirm { action: &action },
            // The confirmation form and mail clients' RFC 8058 one-click POST alike.
            (LinkPurpose::Unsubscribe, Method::POST) => {
                let order = self.store.get_order(&claims.shop, &claims.order).await?.ok_or(PageError::NotFound)?;
                if let Some(email) = order.customer.email.as_deref() {
                    self.store.unsubscribe(&claims.shop, email, now).await?;
                    tracing::info!("customer unsubscribed from review requests");
                }
                Page::Unsubscribed
            }
            _ => return Err(PageError::MethodNotAllowed),
        };
        let page = page_for(Some(&settings), &page).map_err(|err| {
            tracing::error!(error = %err, "page template failed");
            PageError::Invalid("Something went wrong on our side.")
        })?;
        Ok(Rendered { status: StatusCode::OK, page })
    }

    async fn record_answer(&self, claims: &LinkClaims, score: u8, comment: Option<String>) -> Result<(), PageError> {
        let answer = SurveyAnswer {
            order_id: claims.order.clone(),
            score,
            comment,
            answered_at: self.clock.now(),
            confirmed: true,
        };
        self.store.record_survey_answer(&claims.shop, &answer).await?;
        tracing::info!(score, "survey answer recorded");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_0_to_10() {
        assert_eq!(parse_score(Some("0".into())).unwrap(), 0);
        assert_eq!(parse_score(Some(" 10 ".into())).unwrap(), 10);
        for bad in ["11", "-1", "nine", ""] {
            assert!(parse_score(Some(bad.into())).is_err(), "{bad}");
        }
        assert!(parse_score(None).is_err());
    }

    #[test]
    fn form_fields_are_decoded() {
        assert_eq!(form_field(b"score=9&comment=Great+shop%21", "comment").as_deref(), Some("Great shop!"));
        assert_eq!(form_field(b"List-Unsubscribe=One-Click", "score"), None);
    }
}
