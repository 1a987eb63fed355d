//! The reference's other 13 domains, as schema files compiled into the crate
//! (`data/domains/NAME/`, MIT, see `data/LICENSE-sqllocks-spindle`). Retail is the
//! hand-written [`crate::RetailDomain`]; its schema file is there too, for comparison.

use super::SchemaDomain;
use std::sync::OnceLock;

macro_rules! domain {
    ($name:literal, [$($set:literal),*]) => {
        (
            $name,
            include_str!(concat!("../../data/domains/", $name, "/", $name, ".spindle.json")),
            &[$(($set, include_str!(concat!("../../data/domains/", $name, "/reference_data/", $set, ".json")))),*],
        )
    };
}

type Embedded = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The schema files, each domain's name, text and reference data sets.
const FILES: [Embedded; 13] = [
    domain!(
        "capital_markets",
        [
            "exchanges",
            "gics_sectors",
            "index_memberships",
            "sp500_constituents"
        ]
    ),
    domain!(
        "education",
        ["aid_types", "course_catalog", "department_names"]
    ),
    domain!(
        "financial",
        ["branch_names", "merchant_names", "transaction_categories"]
    ),
    domain!(
        "healthcare",
        [
            "cpt_codes",
            "icd10_codes",
            "insurance_plans",
            "medication_names",
            "specialties"
        ]
    ),
    domain!(
        "hr",
        ["department_names", "position_titles", "training_courses"]
    ),
    domain!(
        "insurance",
        ["claim_categories", "peril_types", "policy_types"]
    ),
    domain!(
        "iot",
        ["alert_severity_levels", "device_types", "sensor_types"]
    ),
    domain!(
        "manufacturing",
        ["defect_codes", "material_types", "operation_types"]
    ),
    domain!(
        "marketing",
        ["campaign_types", "industry_names", "lead_sources"]
    ),
    domain!("pulse", []),
    domain!(
        "real_estate",
        ["inspection_items", "neighborhoods", "property_types"]
    ),
    domain!(
        "supply_chain",
        ["carrier_names", "material_categories", "shipping_methods"]
    ),
    domain!(
        "telecom",
        ["device_models", "network_event_types", "plan_types"]
    ),
];

/// Each domain parsed on first use, alone: naming one does not parse the others.
static PARSED: [OnceLock<SchemaDomain>; FILES.len()] = [const { OnceLock::new() }; FILES.len()];

fn parsed(index: usize) -> &'static SchemaDomain {
    PARSED[index].get_or_init(|| {
        let (name, text, sets) = FILES[index];
        SchemaDomain::embedded(name, text, sets)
    })
}

/// The built-in schema domains' names, without parsing them.
pub fn built_in_names() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(name, _, _)| *name)
}

/// The built-in schema domain called `name` (any case), parsed on first use.
pub fn built_in_named(name: &str) -> Option<&'static SchemaDomain> {
    FILES
        .iter()
        .position(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(parsed)
}

/// Every built-in schema domain, each parsed on first use.
pub fn built_in() -> impl Iterator<Item = &'static SchemaDomain> {
    (0..FILES.len()).map(parsed)
}
