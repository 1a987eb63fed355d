//! Every run setting the engine declares (`StreamConfig::SETTINGS`) is a flag whose help
//! is its doc, and a `--config` key; the flag, the key and the engine agree on its
//! default. (Python's side: `tests/python/test_api.py`.)

use crate::common::{spindle, text};
use spindle_stream::StreamConfig;

/// A short run of orders to `out`, with `extra` arguments; its bytes.
fn orders(dir: &std::path::Path, name: &str, extra: &[&str]) -> Vec<u8> {
    let out = dir.join(name);
    let sink = format!("file:{}", out.display());
    let mut args = vec![
        "stream",
        "retail",
        "--table",
        "order",
        "--max-events",
        "50",
        "-q",
        "--sink",
        &sink,
    ];
    args.extend_from_slice(extra);
    let o = spindle(&args);
    assert!(o.status.success(), "{extra:?}: {}", text(&o.stderr));
    std::fs::read(out).unwrap()
}

/// The flag that sets `key`, as the CLI names it when a `--config` value is wrong.
fn flag_of(dir: &std::path::Path, key: &str) -> String {
    let config = dir.join(format!("bad-{key}.toml"));
    std::fs::write(&config, format!("{key} = {{ not = 1 }}\n")).unwrap();
    let o = spindle(&[
        "stream",
        "retail",
        "--table",
        "order",
        "--sink",
        "file:/dev/null",
        "--config",
        config.to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{key}: {err}");
    assert!(err.contains(&format!("invalid {key}:")), "{key}: {err}");
    let tail = format!(" or `{key}` in --config)");
    let before = &err[..err.find(&tail).unwrap_or_else(|| panic!("{key}: {err}"))];
    before[before.rfind("(set by ").expect("set by") + "(set by ".len()..].to_string()
}

#[test]
fn every_setting_is_a_flag_and_a_config_key_that_agree_on_its_default() {
    let dir = tempfile::tempdir().unwrap();
    let help = text(&spindle(&["stream", "--help"]).stdout);
    let defaults = StreamConfig::default();
    let plain = orders(dir.path(), "plain.jsonl", &[]);
    let mut file = String::new();
    for setting in StreamConfig::SETTINGS {
        let key = setting.key;
        assert!(
            help.contains(&setting.text()),
            "{key}: {:?} is not its flag's help:\n{help}",
            setting.text()
        );
        let default = defaults.value_json(key).unwrap();
        if default == "null" {
            continue;
        }
        // JSON numbers, booleans, text and empty lists are TOML values as written.
        file.push_str(&format!("{key} = {default}\n"));
        let flag = flag_of(dir.path(), key);
        let listed = help.lines().any(|l| {
            let l = l.trim_start();
            l.split([' ', '[']).next() == Some(flag.as_str())
        });
        assert!(listed, "{flag} ({key}) is not in --help");
        let text_default = default.trim_matches('"');
        let given = match (
            setting.is_switch,
            flag.starts_with("--no-"),
            default.as_str(),
        ) {
            // A `--no-` switch says the opposite of the default; an empty list has no flag.
            (true, true, _) | (_, _, "[]") => continue,
            (true, false, _) => vec![format!("{flag}={text_default}")],
            (false, _, _) => vec![flag.clone(), text_default.to_string()],
        };
        let given: Vec<&str> = given.iter().map(String::as_str).collect();
        let bytes = orders(dir.path(), &format!("{key}.jsonl"), &given);
        assert!(bytes == plain, "{given:?} changed the output");
    }
    let config = dir.path().join("defaults.toml");
    std::fs::write(&config, &file).unwrap();
    let from_file = orders(
        dir.path(),
        "file.jsonl",
        &["--config", config.to_str().unwrap()],
    );
    assert!(
        from_file == plain,
        "the defaults in --config changed the output:\n{file}"
    );
}
