//! Reference data shipped with the crate: real US ZIP centroids and the product
//! category hierarchy (both under the repository's `data/`).

use flate2::read::GzDecoder;
use std::io::Read;
use std::sync::OnceLock;

/// One US ZIP code centroid.
#[derive(Clone, Debug)]
pub struct ZipRecord {
    /// Five-digit ZIP code, leading zeros kept.
    pub zip: String,
    /// City name.
    pub city: String,
    /// Two-letter state code.
    pub state: String,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lng: f64,
}

static ZIP_GZ: &[u8] = include_bytes!("../../../../data/us_zip_locations.csv.gz");
static CATEGORIES_CSV: &str = include_str!("../../../../data/product_categories.csv");

/// All ZIP records, parsed once.
pub fn zip_records() -> &'static [ZipRecord] {
    static RECORDS: OnceLock<Vec<ZipRecord>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let mut text = String::new();
        GzDecoder::new(ZIP_GZ)
            .read_to_string(&mut text)
            .expect("embedded ZIP data is valid gzip");
        text.lines()
            .skip(1)
            .filter(|line| !line.is_empty())
            .map(|line| {
                let mut f = line.split(',');
                let mut next = || f.next().expect("embedded ZIP data has 5 fields");
                let zip = next().to_string();
                let city = next().to_string();
                let state = next().to_string();
                let lat = next().parse().expect("embedded latitude parses");
                let lng = next().parse().expect("embedded longitude parses");
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
    fn zip_data_is_complete() {
        let z = zip_records();
        assert_eq!(z.len(), 40_977);
        let states: std::collections::HashSet<&str> = z.iter().map(|r| r.state.as_str()).collect();
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
