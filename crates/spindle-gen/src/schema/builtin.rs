//! The reference's other 13 domains, as schema files compiled into the crate
//! (`data/domains/NAME/`, MIT, see `data/LICENSE-sqllocks-spindle`). Retail is the
//! hand-written [`crate::RetailDomain`]; its schema file is there too, for comparison.

use super::domain::SchemaDomain;
use std::sync::OnceLock;

/// A domain's schema file and reference data sets, and the lifecycles of its workflow
/// tables in a change stream, as `(table, text)` in spindle-stream's `Lifecycle` text
/// form (Spindle's own figures: the reference has none).
macro_rules! domain {
    ($name:literal, [$($set:literal),* $(,)?]) => {
        domain!($name, [$($set),*], [])
    };
    ($name:literal, [$($set:literal),* $(,)?], [$(($table:literal, $lifecycle:expr)),* $(,)?]) => {
        Embedded {
            name: $name,
            text: include_str!(concat!("../../data/domains/", $name, "/", $name, ".spindle.json")),
            datasets: &[$(($set, include_str!(concat!("../../data/domains/", $name, "/reference_data/", $set, ".json")))),*],
            lifecycles: &[$(($table, $lifecycle)),*],
        }
    };
}

/// One built-in schema domain as compiled in.
struct Embedded {
    name: &'static str,
    text: &'static str,
    datasets: &'static [(&'static str, &'static str)],
    lifecycles: &'static [(&'static str, &'static str)],
}

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
        ["aid_types", "course_catalog", "department_names"],
        [
            (
                "grade_appeal",
                "status:Under Review=Pending/72/24;Approved=Pending/72/24>Under Review/240/96;\
         Denied=Pending/72/24>Under Review/240/96"
            ),
            (
                "financial_aid",
                "status:Awarded=Pending/168/72;Disbursed=Pending/168/72>Awarded/336/120;\
         Cancelled=Pending/168/72>Awarded/240/96"
            ),
        ]
    ),
    domain!(
        "financial",
        ["branch_names", "merchant_names", "transaction_categories"],
        [(
            "transaction",
            "status:Completed=Pending/0.5/0.25;Failed=Pending/0.25/0.1;\
         Reversed=Pending/0.5/0.25>Completed/72/24"
        )]
    ),
    domain!(
        "healthcare",
        [
            "cpt_codes",
            "icd10_codes",
            "insurance_plans",
            "medication_names",
            "specialties"
        ],
        [
            (
                "claim",
                "status:Paid=Pending/240/96;Partially Paid=Pending/240/96;Denied=Pending/168/72;\
         Appealed=Pending/168/72>Denied/336/120"
            ),
            ("encounter", "status:Completed=In Progress/2/1"),
        ]
    ),
    domain!(
        "hr",
        ["department_names", "position_titles", "training_courses"]
    ),
    domain!(
        "insurance",
        ["claim_categories", "peril_types", "policy_types"],
        [(
            "claim",
            "status:Under Review=Open/48/24;Approved=Open/48/24>Under Review/240/96;\
         Denied=Open/48/24>Under Review/240/96;\
         Closed=Open/48/24>Under Review/240/96>Approved/336/120"
        )]
    ),
    domain!(
        "iot",
        ["alert_severity_levels", "device_types", "sensor_types"]
    ),
    domain!(
        "manufacturing",
        ["defect_codes", "material_types", "operation_types"],
        [(
            "work_order",
            "status:In Progress=Open/24/12;Completed=Open/24/12>In Progress/72/24;\
         On Hold=Open/24/12>In Progress/36/12;Cancelled=Open/48/24"
        )]
    ),
    domain!(
        "marketing",
        ["campaign_types", "industry_names", "lead_sources"],
        [(
            "lead",
            "status:Contacted=New/48/24;Qualified=New/48/24>Contacted/120/48;\
         Unqualified=New/48/24>Contacted/96/48;\
         Converted=New/48/24>Contacted/120/48>Qualified/336/120"
        )]
    ),
    domain!(
        "pulse",
        [],
        [(
            "trip",
            "status:completed=requested/0.1/0.05>on_trip/0.4/0.2;cancelled=requested/0.1/0.05;\
         no_driver=requested/0.15/0.05"
        )]
    ),
    domain!(
        "real_estate",
        ["inspection_items", "neighborhoods", "property_types"],
        [
            (
                "listing",
                "status:Pending=Active/504/240;Sold=Active/504/240>Pending/720/240;\
         Withdrawn=Active/720/336;Expired=Active/2160/720"
            ),
            (
                "offer",
                "status:Accepted=Pending/48/24;Rejected=Pending/48/24;Countered=Pending/24/12;\
         Withdrawn=Pending/72/24"
            ),
        ]
    ),
    domain!(
        "supply_chain",
        ["carrier_names", "material_categories", "shipping_methods"],
        [
            (
                "purchase_order",
                "status:Approved=Pending/24/12;Shipped=Pending/24/12>Approved/72/24;\
         Delivered=Pending/24/12>Approved/72/24>Shipped/120/48;Cancelled=Pending/48/24"
            ),
            (
                "shipment",
                "status:In Transit=Pending Pickup/12/6;Delayed=Pending Pickup/12/6>In Transit/96/24;\
         Delivered=Pending Pickup/12/6>In Transit/72/24;\
         Lost=Pending Pickup/12/6>In Transit/240/72;\
         Returned=Pending Pickup/12/6>In Transit/72/24>Delivered/168/72"
            ),
        ]
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
        let file = &FILES[index];
        SchemaDomain::embedded(file.name, file.text, file.datasets, file.lifecycles)
    })
}

/// The built-in schema domains' names, without parsing them.
pub fn built_in_names() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|file| file.name)
}

/// The built-in schema domain called `name` (any case), parsed on first use.
pub fn built_in_named(name: &str) -> Option<&'static SchemaDomain> {
    FILES
        .iter()
        .position(|file| file.name.eq_ignore_ascii_case(name))
        .map(parsed)
}

/// Every built-in schema domain, each parsed on first use.
pub fn built_in() -> impl Iterator<Item = &'static SchemaDomain> {
    (0..FILES.len()).map(parsed)
}
