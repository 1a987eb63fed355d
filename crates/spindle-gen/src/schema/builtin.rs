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

/// The built-in schema domains, parsed on first use.
pub fn built_in() -> &'static [SchemaDomain] {
    static DOMAINS: OnceLock<Vec<SchemaDomain>> = OnceLock::new();
    DOMAINS.get_or_init(|| {
        let files: [Embedded; 13] = [
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
        files
            .iter()
            .map(|(name, text, sets)| SchemaDomain::embedded(name, text, sets))
            .collect()
    })
}
