//! Reference data shipped with the crate: real US ZIP centroids and the product
//! category hierarchy (both under the repository's `data/`).

use std::sync::OnceLock;

/// One US ZIP code centroid.
#[derive(Clone, Debug)]
pub struct ZipRecord {
    /// Five-digit ZIP code, leading zeros kept.
    pub zip: &'static str,
    /// City name.
    pub city: &'static str,
    /// Two-letter state code.
    pub state: &'static str,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lng: f64,
}

static ZIP_ZST: &[u8] = include_bytes!("../../data/us_zip_locations.csv.zst");
static CATEGORIES_CSV: &str = include_str!("../../data/product_categories.csv");

/// All ZIP records, parsed once.
pub fn zip_records() -> &'static [ZipRecord] {
    static RECORDS: OnceLock<Vec<ZipRecord>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let bytes = zstd::decode_all(ZIP_ZST).expect("embedded ZIP data is valid zstd");
        let text = String::from_utf8(bytes).expect("embedded ZIP data is UTF-8");
        // The text lives as long as the program, so records borrow from it: no copies.
        let text: &'static str = text.leak();
        text.lines()
            .skip(1)
            .filter(|line| !line.is_empty())
            .map(|line| {
                let mut f = line.split(',');
                let mut next = || f.next().expect("embedded ZIP data has 5 fields");
                let (zip, city, state) = (next(), next(), next());
                let lat = degrees(next()).expect("embedded latitude parses");
                let lng = degrees(next()).expect("embedded longitude parses");
                ZipRecord {
                    zip,
                    city,
                    state,
                    lat,
                    lng,
                }
            })
            .collect()
    })
}

/// Parses a decimal like `-165.7854` exactly as `str::parse::<f64>` does, faster: the
/// digits as an integer over a power of ten, which is correctly rounded while both are
/// exact doubles (up to 15 digits); anything else goes to the general parser.
fn degrees(text: &str) -> Option<f64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    let digits = whole.len() + fraction.len();
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || digits > 15 || !plain(whole) || !plain(fraction) {
        return text.parse().ok();
    }
    let mantissa = whole
        .bytes()
        .chain(fraction.bytes())
        .fold(0_i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    let value = mantissa as f64 / 10_f64.powi(fraction.len() as i32);
    Some(if negative { -value } else { value })
}

/// Starts parsing the ZIP records on a thread of their own, so that they are ready, or
/// nearly, when the first address or store is generated (while the caller plans).
pub fn preload_zip_records() {
    std::thread::spawn(zip_records);
}

/// One product category of the fixed hierarchy.
#[derive(Clone, Debug)]
pub struct Category {
    /// 1-based id, in file order.
    pub id: i64,
    /// Display name.
    pub name: &'static str,
    /// Popularity weight of the category.
    pub weight: f64,
    /// Parent id, `None` for roots.
    pub parent: Option<i64>,
    /// Depth, 1 for roots.
    pub level: i64,
    /// Whether no category names this one as parent.
    pub is_leaf: bool,
}

/// The 50 product categories (8 roots, 3 levels).
pub fn categories() -> &'static [Category] {
    static CATEGORIES: OnceLock<Vec<Category>> = OnceLock::new();
    CATEGORIES.get_or_init(|| {
        let rows: Vec<(&str, f64, &str)> = CATEGORIES_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|line| {
                // Names contain no commas; the parent is the last field.
                let mut f = line.splitn(3, ',');
                let name = f.next().expect("name");
                let weight = f.next().expect("weight").parse().expect("weight parses");
                (name, weight, f.next().unwrap_or(""))
            })
            .collect();
        let id_of = |name: &str| rows.iter().position(|r| r.0 == name).map(|p| p as i64 + 1);
        let mut out: Vec<Category> = rows
            .iter()
            .enumerate()
            .map(|(i, &(name, weight, parent))| Category {
                id: i as i64 + 1,
                name,
                weight,
                parent: if parent.is_empty() {
                    None
                } else {
                    Some(id_of(parent).expect("parent category exists"))
                },
                level: 1,
                is_leaf: !rows.iter().any(|r| r.2 == name),
            })
            .collect();
        for i in 0..out.len() {
            let mut level = 1;
            let mut parent = out[i].parent;
            while let Some(p) = parent {
                level += 1;
                parent = out[p as usize - 1].parent;
            }
            out[i].level = level;
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degrees_parse_as_the_standard_parser_does() {
        let bytes = zstd::decode_all(ZIP_ZST).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        for line in text.lines().skip(1) {
            for field in line.split(',').skip(3) {
                assert_eq!(degrees(field), field.parse().ok(), "{field}");
            }
        }
        for odd in ["1e5", "-0.0", "12.", ".5", "nan", "", "1234567890.1234567"] {
            assert_eq!(
                degrees(odd).map(f64::to_bits),
                odd.parse::<f64>().ok().map(f64::to_bits),
                "{odd}"
            );
        }
    }

    #[test]
    fn zip_data_is_complete() {
        let z = zip_records();
        assert_eq!(z.len(), 40_977);
        let states: std::collections::HashSet<&str> = z.iter().map(|r| r.state).collect();
        assert_eq!(states.len(), 51);
        assert!(z.iter().all(|r| r.zip.len() == 5 && r.state.len() == 2));
    }

    #[test]
    fn category_hierarchy_has_8_roots_and_3_levels() {
        let c = categories();
        assert_eq!(c.len(), 50);
        assert_eq!(c.iter().filter(|c| c.parent.is_none()).count(), 8);
        assert_eq!(c.iter().map(|c| c.level).max(), Some(3));
        for cat in c {
            if let Some(p) = cat.parent {
                assert_eq!(c[p as usize - 1].level + 1, cat.level);
            }
        }
    }
}
