//! Reference data shipped with the crate: real US ZIP centroids and the product
//! category hierarchy (both under the repository's `data/`).

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, Float64Array, StringArray};
use std::sync::OnceLock;

/// The US ZIP code centroids, column by column, in file order. Columnar, so that the
/// 41,000 records take about 1.8 MiB (as the Arrow arrays both Retail and the schema
/// engine's `us_zip_locations` dataset read; a struct per record with borrowed text
/// held 7.6 MiB: 64-byte records in a doubled `Vec` beside the decompressed file).
#[derive(Debug)]
pub struct ZipCentroids {
    /// Five-digit ZIP code, leading zeros kept.
    pub zip: StringArray,
    /// City name.
    pub city: StringArray,
    /// Two-letter state code.
    pub state: StringArray,
    /// Latitude in degrees.
    pub lat: Float64Array,
    /// Longitude in degrees.
    pub lng: Float64Array,
}

impl ZipCentroids {
    /// Number of ZIP codes.
    pub fn len(&self) -> usize {
        self.zip.len()
    }

    /// Whether there are none (never, for the embedded file).
    pub fn is_empty(&self) -> bool {
        self.zip.is_empty()
    }
}

static ZIP_ZST: &[u8] = include_bytes!("../../data/us_zip_locations.csv.zst");
static CATEGORIES_CSV: &str = include_str!("../../data/product_categories.csv");

/// The ZIP centroids, parsed once (the decompressed file is dropped once parsed).
pub fn zip_centroids() -> &'static ZipCentroids {
    static CENTROIDS: OnceLock<ZipCentroids> = OnceLock::new();
    CENTROIDS.get_or_init(|| {
        // The file is 1.5 MB; decompressed in one call, then split on bytes (a comma is
        // never part of a longer UTF-8 character), as this sits on the path of every
        // run that reads it.
        let bytes =
            zstd::bulk::decompress(ZIP_ZST, 2 << 20).expect("embedded ZIP data is valid zstd");
        let text = std::str::from_utf8(&bytes).expect("embedded ZIP data is UTF-8");
        let count = bytes.iter().filter(|&&b| b == b'\n').count();
        let mut zip = StringBuilder::with_capacity(count, 5 * count);
        let mut city = StringBuilder::with_capacity(count, 16 * count);
        let mut state = StringBuilder::with_capacity(count, 2 * count);
        let mut lat = Vec::with_capacity(count);
        let mut lng = Vec::with_capacity(count);
        for line in text.lines().skip(1).filter(|line| !line.is_empty()) {
            let mut fields = [""; 5];
            let (mut field, mut start) = (0, 0);
            for (i, byte) in line.bytes().enumerate() {
                if byte == b',' && field < 4 {
                    fields[field] = &line[start..i];
                    (field, start) = (field + 1, i + 1);
                }
            }
            assert_eq!(field, 4, "embedded ZIP data has 5 fields: {line}");
            fields[4] = &line[start..];
            let [zip_code, city_name, state_code, latitude, longitude] = fields;
            zip.append_value(zip_code);
            city.append_value(city_name);
            state.append_value(state_code);
            lat.push(degrees(latitude).expect("embedded latitude parses"));
            lng.push(degrees(longitude).expect("embedded longitude parses"));
        }
        let mut city = city.finish();
        city.shrink_to_fit();
        ZipCentroids {
            zip: zip.finish(),
            city,
            state: state.finish(),
            lat: lat.into(),
            lng: lng.into(),
        }
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

/// Starts parsing the ZIP centroids on a thread of their own, so that they are ready,
/// or nearly, when the first address or store is generated (while the caller plans).
pub fn preload_zip_centroids() {
    std::thread::spawn(zip_centroids);
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
        let z = zip_centroids();
        assert_eq!(z.len(), 40_977);
        assert_eq!(
            z.zip.null_count() + z.city.null_count() + z.state.null_count(),
            0
        );
        let states: std::collections::HashSet<&str> = z.state.iter().flatten().collect();
        assert_eq!(states.len(), 51);
        assert!(z.zip.iter().flatten().all(|zip| zip.len() == 5));
        assert!(z.state.iter().flatten().all(|state| state.len() == 2));
        assert!(z.city.iter().flatten().all(|city| !city.is_empty()));
        assert_eq!(z.lat.len() + z.lng.len(), 2 * z.len());
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
