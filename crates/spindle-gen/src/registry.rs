//! The built-in domains by name: Retail and the schema domains compiled in, or a
//! `.spindle.json` file by its path. The one place that knows every generator.

use crate::domain::Domain;
use crate::error::{Error, Result};

/// All built-in domains: Retail, then the schema domains.
pub fn domains() -> Vec<Box<dyn Domain>> {
    let mut all: Vec<Box<dyn Domain>> = vec![Box::new(crate::retail::RetailDomain::new())];
    all.extend(crate::schema::built_in().map(|d| Box::new(d.clone()) as Box<dyn Domain>));
    all
}

/// The domain called `name`, or the `.spindle.json` schema file at the path `name`
/// (a name ending in `.json` or holding a path separator).
///
/// # Errors
/// [`Error::UnknownDomain`] listing the known domains; [`Error::Schema`] for a schema
/// file that cannot be read or used.
pub fn domain_by_name(name: &str) -> Result<Box<dyn Domain>> {
    if crate::schema::is_schema_path(name) {
        return Ok(Box::new(crate::schema::SchemaDomain::from_file(name)?));
    }
    let retail = crate::retail::RetailDomain::new();
    if retail.name().eq_ignore_ascii_case(name) {
        return Ok(Box::new(retail));
    }
    match crate::schema::built_in_named(name) {
        Some(d) => Ok(Box::new(d.clone())),
        None => Err(Error::UnknownDomain {
            name: name.to_string(),
            allowed: domain_names()
                .into_iter()
                .chain(std::iter::once("or a path to a .spindle.json schema"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The built-in domains' names, Retail first, without parsing any schema.
pub fn domain_names() -> Vec<&'static str> {
    std::iter::once(crate::retail::RetailDomain::NAME)
        .chain(crate::schema::built_in_names())
        .collect()
}
