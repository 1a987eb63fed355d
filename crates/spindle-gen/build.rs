//! Lays out the US ZIP centroids (`data/us_zip_locations.csv`) as the buffers of Arrow
//! arrays, one file per buffer in `OUT_DIR`, which the crate embeds and reads in place:
//! no run parses the file (a decompression and a parse of 41,000 lines cost every run
//! that reads ZIPs about 6 ms, before anything else could start).

use std::path::Path;

/// A text column as Arrow lays it out: 32-bit offsets, then the values' bytes.
struct Text {
    offsets: Vec<u8>,
    values: Vec<u8>,
}

impl Text {
    fn new() -> Self {
        Self {
            offsets: 0_i32.to_le_bytes().to_vec(),
            values: Vec::new(),
        }
    }

    fn push(&mut self, value: &str) {
        self.values.extend_from_slice(value.as_bytes());
        let end = i32::try_from(self.values.len()).expect("ZIP text fits 32-bit offsets");
        self.offsets.extend_from_slice(&end.to_le_bytes());
    }
}

fn main() {
    let source = Path::new("data/us_zip_locations.csv");
    println!("cargo::rerun-if-changed={}", source.display());
    let csv = std::fs::read_to_string(source).expect("data/us_zip_locations.csv is readable");
    let (mut code, mut city, mut state) = (Text::new(), Text::new(), Text::new());
    let (mut lat, mut lng) = (Vec::new(), Vec::new());
    // `lines` drops the `\r` of the file's CRLF line ends.
    for (number, line) in csv.lines().enumerate().skip(1) {
        if line.is_empty() {
            continue;
        }
        // zip,city,state,lat,lng: city names hold no commas.
        let fields: Vec<&str> = line.split(',').collect();
        let [zip_code, city_name, state_code, latitude, longitude] = fields[..] else {
            panic!("line {}: 5 fields expected: {line}", number + 1);
        };
        let degrees = |text: &str| -> f64 {
            text.parse()
                .unwrap_or_else(|e| panic!("line {}: {text}: {e}", number + 1))
        };
        code.push(zip_code);
        city.push(city_name);
        state.push(state_code);
        lat.extend_from_slice(&degrees(latitude).to_le_bytes());
        lng.extend_from_slice(&degrees(longitude).to_le_bytes());
    }
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out);
    let files = [
        ("code_offsets", &code.offsets),
        ("code_values", &code.values),
        ("city_offsets", &city.offsets),
        ("city_values", &city.values),
        ("state_offsets", &state.offsets),
        ("state_values", &state.values),
        ("lat", &lat),
        ("lng", &lng),
    ];
    for (name, bytes) in files {
        std::fs::write(out.join(format!("zip_{name}.bin")), bytes).expect("OUT_DIR is writable");
    }
}
