//! Word lists of the faker providers, from the reference's `engine/data/names.py`
//! (MIT, see `data/LICENSE-sqllocks-spindle`), and the providers' cities and states.

use std::sync::OnceLock;

/// A word list read once from its embedded file, one entry a line.
fn lines(
    cell: &'static OnceLock<Vec<&'static str>>,
    text: &'static str,
) -> &'static [&'static str] {
    cell.get_or_init(|| text.lines().filter(|l| !l.is_empty()).collect())
}

macro_rules! word_list {
    ($(#[$doc:meta])* $name:ident, $file:literal) => {
        $(#[$doc])*
        pub fn $name() -> &'static [&'static str] {
            static CELL: OnceLock<Vec<&'static str>> = OnceLock::new();
            lines(&CELL, include_str!(concat!("../../data/words/", $file)))
        }
    };
}

word_list!(/// 5,000 first names.
    first_names, "first_names.txt");
word_list!(/// 5,000 last names.
    last_names, "last_names.txt");
word_list!(/// 2,000 company names.
    company_names, "company_names.txt");
word_list!(/// 1,000 street names.
    street_names, "street_names.txt");
word_list!(/// 50 e-mail domains.
    email_domains, "email_domains.txt");
word_list!(/// 2,000 sentences.
    sentences, "sentences.txt");
word_list!(/// 189 URI paths.
    uri_paths, "uri_paths.txt");
word_list!(/// 100 URI domains.
    uri_domains, "uri_domains.txt");

/// Street suffixes of `street_address`.
pub const STREET_SUFFIXES: &[&str] = &[
    "St", "Ave", "Blvd", "Dr", "Ln", "Way", "Ct", "Pl", "Rd", "Cir",
];

/// The 50 states' codes (`state_abbr`).
pub const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY",
];

/// The largest US cities (`city`).
pub const US_CITIES: &[&str] = &[
    "New York",
    "Los Angeles",
    "Chicago",
    "Houston",
    "Phoenix",
    "Philadelphia",
    "San Antonio",
    "San Diego",
    "Dallas",
    "San Jose",
    "Austin",
    "Jacksonville",
    "Fort Worth",
    "Columbus",
    "Charlotte",
    "Indianapolis",
    "San Francisco",
    "Seattle",
    "Denver",
    "Washington",
    "Nashville",
    "Oklahoma City",
    "El Paso",
    "Boston",
    "Portland",
    "Las Vegas",
    "Memphis",
    "Louisville",
    "Baltimore",
    "Milwaukee",
    "Albuquerque",
    "Tucson",
    "Fresno",
    "Sacramento",
    "Mesa",
    "Kansas City",
    "Atlanta",
    "Omaha",
    "Colorado Springs",
    "Raleigh",
    "Long Beach",
    "Virginia Beach",
    "Miami",
    "Oakland",
    "Minneapolis",
    "Tampa",
    "Tulsa",
    "Arlington",
    "New Orleans",
    "Wichita",
    "Cleveland",
    "Bakersfield",
    "Aurora",
    "Anaheim",
    "Honolulu",
    "Santa Ana",
    "Riverside",
    "Corpus Christi",
    "Lexington",
    "Henderson",
    "Stockton",
    "Saint Paul",
    "Cincinnati",
    "St. Louis",
    "Pittsburgh",
    "Greensboro",
    "Lincoln",
    "Anchorage",
    "Plano",
    "Orlando",
    "Irvine",
    "Newark",
    "Durham",
    "Chula Vista",
    "Toledo",
    "Fort Wayne",
    "St. Petersburg",
    "Laredo",
    "Jersey City",
    "Chandler",
    "Madison",
    "Lubbock",
    "Scottsdale",
    "Reno",
    "Buffalo",
    "Gilbert",
    "Glendale",
    "North Las Vegas",
    "Winston-Salem",
    "Chesapeake",
    "Norfolk",
    "Fremont",
    "Garland",
    "Irving",
    "Hialeah",
    "Richmond",
    "Boise",
    "Spokane",
    "Baton Rouge",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_have_the_reference_sizes() {
        assert_eq!(first_names().len(), 5_000);
        assert_eq!(last_names().len(), 5_000);
        assert_eq!(company_names().len(), 2_000);
        assert_eq!(street_names().len(), 1_000);
        assert_eq!(email_domains().len(), 50);
        assert_eq!(sentences().len(), 2_000);
        assert_eq!(uri_paths().len(), 189);
        assert_eq!(uri_domains().len(), 100);
        assert_eq!(US_STATES.len(), 50);
    }
}
