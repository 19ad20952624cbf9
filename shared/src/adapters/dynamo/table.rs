//! The one DynamoDB table: its key schema, defined once. `ppx init` creates the table from this,
//! and a test checks that `infra/template.yaml` declares exactly the same.

pub const PARTITION_KEY: &str = "pk";
pub const SORT_KEY: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PARTITION_KEY: &str = "gsi1pk";
pub const GSI1_SORT_KEY: &str = "gsi1sk";
/// Epoch seconds; DynamoDB TTL removes the item some time after.
pub const TTL_ATTRIBUTE: &str = "expires_at";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDef {
    pub partition: &'static str,
    pub sort: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    pub name: &'static str,
    pub keys: KeyDef,
    /// Every index projects all attributes.
    pub projection_all: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    pub keys: KeyDef,
    pub global_indexes: Vec<IndexDef>,
    pub ttl_attribute: &'static str,
    /// All key attributes are strings.
    pub string_attributes: Vec<&'static str>,
}

pub fn table_def() -> TableDef {
    TableDef {
        keys: KeyDef { partition: PARTITION_KEY, sort: SORT_KEY },
        global_indexes: vec![IndexDef {
            name: GSI1,
            keys: KeyDef { partition: GSI1_PARTITION_KEY, sort: GSI1_SORT_KEY },
            projection_all: true,
        }],
        ttl_attribute: TTL_ATTRIBUTE,
        string_attributes: vec![PARTITION_KEY, SORT_KEY, GSI1_PARTITION_KEY, GSI1_SORT_KEY],
    }
}
