//! `infra/template.yaml` read as CloudFormation sees it, for the template checks of
//! `tests/infra.rs` and for the IAM guard on the served functions' SDK clients.
//!
//! The template uses short-form intrinsics (`!Ref`, `!Sub`, `!GetAtt`, `!If`, ...), which
//! serde_yaml parses as `Value::Tagged`; `to_json` rewrites them into the long form
//! (`{"Ref": ..}`, `{"Fn::GetAtt": [resource, attribute]}`, `{"Fn::Sub": ..}`).

use serde_json::{Map, Value as Json, json};
use serde_yaml::Value as Yaml;
use std::path::{Path, PathBuf};

pub fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml")
}

/// The template as JSON, short-form intrinsics rewritten to their long form.
pub fn template() -> Json {
    let path = template_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let yaml: Yaml =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    to_json(&yaml)
}

pub fn to_json(value: &Yaml) -> Json {
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => serde_json::to_value(n).expect("a YAML number is a JSON number"),
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(to_json).collect()),
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, item) in mapping {
                let key = match key {
                    Yaml::String(s) => s.clone(),
                    other => panic!("non-string mapping key in the template: {other:?}"),
                };
                object.insert(key, to_json(item));
            }
            Json::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(&tagged.value);
            let (key, inner) = match name {
                "Ref" | "Condition" => (name.to_owned(), inner),
                // `!GetAtt Resource.Attribute` is `{"Fn::GetAtt": ["Resource", "Attribute"]}`.
                "GetAtt" => match inner {
                    Json::String(s) => {
                        let (resource, attribute) =
                            s.split_once('.').unwrap_or_else(|| panic!("!GetAtt {s} has no attribute"));
                        ("Fn::GetAtt".to_owned(), json!([resource, attribute]))
                    }
                    other => ("Fn::GetAtt".to_owned(), other),
                },
                _ => (format!("Fn::{name}"), inner),
            };
            let mut object = Map::new();
            object.insert(key, inner);
            Json::Object(object)
        }
    }
}

pub fn resources(template: &Json) -> &Map<String, Json> {
    template["Resources"].as_object().expect("the template has Resources")
}

pub fn resource<'a>(template: &'a Json, name: &str) -> &'a Json {
    resources(template).get(name).unwrap_or_else(|| panic!("the template has no resource {name}"))
}

/// A value that may be a single item or a list of items, as a list.
pub fn one_or_many(value: &Json) -> Vec<&Json> {
    match value {
        Json::Array(items) => items.iter().collect(),
        Json::Null => Vec::new(),
        other => vec![other],
    }
}

pub fn is_allow(statement: &Json) -> bool {
    // A statement without Effect is invalid; count it as Allow so it is checked.
    statement["Effect"] != "Deny"
}

pub fn actions(statement: &Json) -> Vec<&str> {
    one_or_many(&statement["Action"])
        .into_iter()
        .map(|a| a.as_str().unwrap_or_else(|| panic!("Action must be a string, got {a}")))
        .collect()
}

/// The Allow statements of one function's inline policies.
pub fn function_allow_statements<'a>(template: &'a Json, function: &str) -> Vec<&'a Json> {
    one_or_many(&resource(template, function)["Properties"]["Policies"])
        .into_iter()
        .flat_map(|policy| one_or_many(&policy["Statement"]))
        .filter(|s| is_allow(s))
        .collect()
}
