//! Every HTTP route of the bundle in one table: the SAM template's events (checked by
//! `tests/infra.rs`), `ppx serve`'s router and each function's own matching are built from it.

use crate::domain::link::LinkPurpose;
use crate::domain::settings::WebhookSource;
use crate::http::edge::EdgeError;

/// The function that answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    OrderPlaced,
    CarrierWebhook,
    ReturnSubmitted,
    Pages,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }

    fn is(self, method: &http::Method) -> bool {
        match self {
            Self::Get => method == http::Method::GET,
            Self::Post => method == http::Method::POST,
        }
    }
}

/// What a route serves, and so how its caller is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A webhook signed with the shop's secret of this source (see `http::auth`).
    Webhook(WebhookSource),
    /// The returns API: signed by the shop, or a customer's returns link as a bearer token, or
    /// the portal's form post to the link's own path.
    ReturnRequest,
    /// A customer page opened by a sealed link of this purpose.
    Link(LinkPurpose),
}

/// One route: `METHOD /fixed/segments/{param}` (every route ends in exactly one parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    /// The fixed segments, e.g. `webhooks/shopify`.
    pub prefix: &'static str,
    /// The name of the last segment, e.g. `shop` or `token`.
    pub param: &'static str,
    pub function: Function,
    pub target: Target,
}

const fn route(method: Method, prefix: &'static str, param: &'static str, function: Function, target: Target) -> Route {
    Route { method, prefix, param, function, target }
}

use Function::{CarrierWebhook, OrderPlaced, Pages, ReturnSubmitted};
use Method::{Get, Post};

/// The routes, as API Gateway serves them.
pub const ROUTES: [Route; 14] = [
    route(Post, "webhooks/shopify", "shop", OrderPlaced, Target::Webhook(WebhookSource::Shopify)),
    route(Post, "webhooks/woocommerce", "shop", OrderPlaced, Target::Webhook(WebhookSource::Woocommerce)),
    route(Post, "webhooks/orders", "shop", OrderPlaced, Target::Webhook(WebhookSource::Orders)),
    route(Post, "webhooks/easypost", "shop", CarrierWebhook, Target::Webhook(WebhookSource::Easypost)),
    route(Post, "webhooks/shippo", "shop", CarrierWebhook, Target::Webhook(WebhookSource::Shippo)),
    route(Post, "webhooks/aftership", "shop", CarrierWebhook, Target::Webhook(WebhookSource::Aftership)),
    route(Post, "webhooks/tracking", "shop", CarrierWebhook, Target::Webhook(WebhookSource::Tracking)),
    // `{shop}` for the JSON API; the same path with a returns-link token for the portal's post.
    route(Post, "returns", "shop", ReturnSubmitted, Target::ReturnRequest),
    route(Get, "track", "token", Pages, Target::Link(LinkPurpose::Track)),
    route(Get, "returns", "token", Pages, Target::Link(LinkPurpose::Return)),
    route(Get, "survey", "token", Pages, Target::Link(LinkPurpose::Survey)),
    route(Post, "survey", "token", Pages, Target::Link(LinkPurpose::Survey)),
    route(Get, "unsubscribe", "token", Pages, Target::Link(LinkPurpose::Unsubscribe)),
    route(Post, "unsubscribe", "token", Pages, Target::Link(LinkPurpose::Unsubscribe)),
];

impl Route {
    /// The path as the SAM template and axum write it: `/webhooks/shopify/{shop}`.
    pub fn path(&self) -> String {
        format!("/{}/{{{}}}", self.prefix, self.param)
    }

    /// The route as the SAM template names it: `POST /webhooks/shopify/{shop}`.
    pub fn template(&self) -> String {
        format!("{} {}", self.method.as_str(), self.path())
    }

    /// The parameter when `segments` (the path without a stage) is this route's path.
    fn param_of<'p>(&self, segments: &[&'p str]) -> Option<&'p str> {
        let (last, fixed) = segments.split_last()?;
        let matches = !last.is_empty() && fixed.len() == self.prefix.split('/').count();
        (matches && fixed.iter().copied().eq(self.prefix.split('/'))).then_some(*last)
    }
}

/// The routes one function answers.
pub fn routes_of(function: Function) -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(move |r| r.function == function)
}

/// A request's route among `function`'s, with its parameter (the shop or the link token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched<'p> {
    pub route: &'static Route,
    pub param: &'p str,
}

/// The route of `function` that `path` names, tolerating a trailing slash and one leading
/// stage segment (`/prod/webhooks/...`). A path of the function under another method is
/// `MethodNotAllowed`; any other path `NoRoute`.
pub fn match_route<'p>(function: Function, method: &http::Method, path: &'p str) -> Result<Matched<'p>, EdgeError> {
    let mut path_known = false;
    for matched in matches(function, path) {
        if matched.route.method.is(method) {
            return Ok(matched);
        }
        path_known = true;
    }
    Err(if path_known { EdgeError::MethodNotAllowed } else { EdgeError::NoRoute })
}

/// The first route of `function` that `path` names under any method (the pages check the
/// link before the method, so a wrong link is a 404 whatever the method).
pub fn match_path(function: Function, path: &str) -> Option<Matched<'_>> {
    matches(function, path).next()
}

fn matches(function: Function, path: &str) -> impl Iterator<Item = Matched<'_>> {
    let segments: Vec<&str> = path.trim_start_matches('/').trim_end_matches('/').split('/').collect();
    routes_of(function).filter_map(move |route| {
        // With the stage first, or without.
        let param = route.param_of(&segments).or_else(|| route.param_of(segments.get(1..).unwrap_or_default()))?;
        Some(Matched { route, param })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(function: Function, method: http::Method, path: &str) -> Result<(&'static Route, &str), &'static str> {
        match_route(function, &method, path).map(|m| (m.route, m.param)).map_err(|e| match e {
            EdgeError::MethodNotAllowed => "method",
            _ => "none",
        })
    }

    #[test]
    fn webhook_routes_tolerate_a_stage_prefix_and_a_trailing_slash() {
        let (route, shop) = param(OrderPlaced, http::Method::POST, "/webhooks/shopify/demo-shop").unwrap();
        assert_eq!((route.target, shop), (Target::Webhook(WebhookSource::Shopify), "demo-shop"));
        let (route, shop) = param(CarrierWebhook, http::Method::POST, "/prod/webhooks/easypost/demo-shop/").unwrap();
        assert_eq!((route.target, shop), (Target::Webhook(WebhookSource::Easypost), "demo-shop"));
        assert_eq!(param(OrderPlaced, http::Method::POST, "/hooks/shopify/demo-shop"), Err("none"));
        assert_eq!(param(OrderPlaced, http::Method::POST, "/webhooks/shopify/"), Err("none"));
        assert_eq!(param(OrderPlaced, http::Method::POST, "/webhooks/shopify//"), Err("none"));
        assert_eq!(param(OrderPlaced, http::Method::POST, "/"), Err("none"));
        assert_eq!(param(OrderPlaced, http::Method::POST, "/a/b/webhooks/shopify/demo-shop"), Err("none"));
    }

    #[test]
    fn each_function_answers_only_its_own_routes() {
        assert_eq!(param(OrderPlaced, http::Method::POST, "/webhooks/easypost/demo-shop"), Err("none"));
        assert_eq!(param(CarrierWebhook, http::Method::POST, "/webhooks/shopify/demo-shop"), Err("none"));
        assert_eq!(param(OrderPlaced, http::Method::GET, "/webhooks/shopify/demo-shop"), Err("method"));
        let (route, token) = param(Pages, http::Method::GET, "/returns/abc.def").unwrap();
        assert_eq!((route.target, token), (Target::Link(LinkPurpose::Return), "abc.def"));
        assert_eq!(param(Pages, http::Method::POST, "/returns/abc.def"), Err("method"));
        let (route, shop) = param(ReturnSubmitted, http::Method::POST, "/prod/returns/demo-shop/").unwrap();
        assert_eq!((route.target, shop), (Target::ReturnRequest, "demo-shop"));
        assert_eq!(param(ReturnSubmitted, http::Method::POST, "/returns/"), Err("none"));
        assert_eq!(param(ReturnSubmitted, http::Method::POST, "/webhooks/demo-shop"), Err("none"));
        let (route, _) = param(Pages, http::Method::POST, "/unsubscribe/t").unwrap();
        assert_eq!(route.target, Target::Link(LinkPurpose::Unsubscribe));
        let any_method = match_path(Pages, "/prod/track/t/").unwrap();
        assert_eq!((any_method.route.target, any_method.param), (Target::Link(LinkPurpose::Track), "t"));
        assert_eq!(match_path(Pages, "/track/"), None);
    }

    #[test]
    fn routes_print_as_the_template_writes_them_and_none_is_listed_twice() {
        assert_eq!(ROUTES[0].template(), "POST /webhooks/shopify/{shop}");
        let mut all: Vec<String> = ROUTES.iter().map(Route::template).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), ROUTES.len());
    }

    #[test]
    fn every_webhook_source_has_its_route() {
        for source in WebhookSource::ALL {
            let route = ROUTES.iter().find(|r| r.target == Target::Webhook(source)).expect("a route");
            assert_eq!(route.prefix, format!("webhooks/{}", source.as_str()));
        }
    }
}
