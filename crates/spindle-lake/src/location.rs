//! Where a run's tables go: a folder (a local path or `file://` URL) holding a table
//! per generated table, each in a folder of its name.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use url::Url;

/// The schemes of table locations this build writes to.
const SCHEMES: &str = "a local path or file://";

/// The folder a run's tables go in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TablesLocation {
    /// The folder, as a URL ending in `/`.
    root: Url,
}

impl TablesLocation {
    /// Parses `--output`: a local path (relative to the working folder) or a `file://`
    /// URL.
    ///
    /// # Errors
    /// Another scheme, or a path that cannot be made absolute.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |message: String| Error::Invalid {
            field: "--output",
            message,
        };
        let root = match text.split_once("://") {
            Some(("file", _)) => {
                let url = Url::parse(text).map_err(|e| invalid(format!("'{text}': {e}")))?;
                let path = url
                    .to_file_path()
                    .map_err(|()| invalid(format!("'{text}' is not a local file:// path")))?;
                directory_url(&path, text)?
            }
            Some((scheme, _)) => {
                return Err(invalid(format!(
                    "'{text}': tables go to {SCHEMES}, not {scheme}://"
                )));
            }
            None => directory_url(Path::new(text), text)?,
        };
        Ok(Self { root })
    }

    /// The URL of table `name`'s folder.
    pub fn table(&self, name: &str) -> Url {
        self.root
            .join(&format!("{name}/"))
            .expect("a table name joins onto a folder URL")
    }

    /// The local folder of table `name`.
    pub fn table_path(&self, name: &str) -> PathBuf {
        self.table(name)
            .to_file_path()
            .expect("locations are local folders")
    }
}

/// The `file://` URL of the folder at `path`, made absolute.
fn directory_url(path: &Path, text: &str) -> Result<Url> {
    let absolute = std::path::absolute(path).map_err(|e| Error::Invalid {
        field: "--output",
        message: format!("'{text}': {e}"),
    })?;
    Url::from_directory_path(&absolute).map_err(|()| Error::Invalid {
        field: "--output",
        message: format!("'{text}' is not a folder path"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_file_urls_name_folders_of_tables() {
        let relative = TablesLocation::parse("out/lake").unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(relative.table_path("order"), cwd.join("out/lake/order"));
        let url = TablesLocation::parse("file:///tmp/lake").unwrap();
        assert_eq!(url.table("order").as_str(), "file:///tmp/lake/order/");
        assert_eq!(TablesLocation::parse("/tmp/lake/").unwrap(), url);
    }

    #[test]
    fn other_schemes_are_refused_naming_the_flag() {
        let e = TablesLocation::parse("ftp://host/lake")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--output") && e.contains("not ftp://"), "{e}");
    }
}
