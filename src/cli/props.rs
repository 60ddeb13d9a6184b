//! Property tests over every flag of every command that takes a value: whatever
//! the text, parsing never panics, and numeric, size and duration flags refuse
//! values beyond their range (issue 11, defect 5) instead of wrapping or saturating.

use super::Cli;
use clap::CommandFactory;
use clap::error::ErrorKind;
use proptest::prelude::*;

/// Each subcommand path (`["tcp", "listen"]`) with its options that take a value
/// (`--name`) and the value name shown in `--help`.
fn value_flags() -> Vec<(Vec<String>, String, String)> {
    fn walk(
        cmd: &clap::Command,
        path: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, String, String)>,
    ) {
        for arg in cmd.get_arguments() {
            let takes_value = arg.get_action().takes_values();
            if let (true, Some(long)) = (takes_value, arg.get_long()) {
                let name = arg
                    .get_value_names()
                    .and_then(|n| n.first().map(|s| s.to_string()))
                    .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
                out.push((path.clone(), format!("--{long}"), name));
            }
        }
        for sub in cmd.get_subcommands() {
            path.push(sub.get_name().to_string());
            walk(sub, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &mut Vec::new(), &mut out);
    out
}

/// Value names of flags whose values are numbers, sizes or durations.
const NUMERIC: &[&str] = &["N", "DURATION", "SIZE", "SECONDS", "DAYS", "PORT", "COUNT"];

/// Values beyond any numeric, size or duration flag's range.
const OUT_OF_RANGE: &[&str] = &[
    "-1",
    "-0.5",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e400",
    "nan",
    "inf",
    "-inf",
    "367d",
    "100000000000000000000000d",
    "99999999999999999999T",
    "",
];

fn parse(path: &[String], flag: &str, value: &str) -> Result<(), clap::Error> {
    let mut argv = vec!["wirekit".to_string()];
    argv.extend(path.iter().cloned());
    argv.push(format!("{flag}={value}"));
    Cli::command().try_get_matches_from(argv).map(drop)
}

#[test]
fn the_command_line_is_consistent() {
    Cli::command().debug_assert();
    assert!(
        value_flags()
            .iter()
            .filter(|(_, _, n)| NUMERIC.contains(&n.as_str()))
            .count()
            >= 20,
        "the walk found too few numeric flags: {:?}",
        value_flags()
    );
}

#[test]
fn numeric_flags_refuse_values_out_of_range() {
    for (path, flag, name) in value_flags() {
        if !NUMERIC.contains(&name.as_str()) {
            continue;
        }
        for value in OUT_OF_RANGE {
            match parse(&path, &flag, value) {
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ValueValidation | ErrorKind::InvalidValue
                    ) => {}
                other => panic!(
                    "wirekit {} {flag}={value:?} was not refused as a bad value: {:?}",
                    path.join(" "),
                    other.map_err(|e| e.kind())
                ),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_value_makes_any_flag_parser_panic(value in "\\PC{0,24}|[-+0-9.eE]{1,30}[a-zA-Z]{0,3}") {
        for (path, flag, _) in value_flags() {
            // An error is fine; a panic fails the test.
            let _ = parse(&path, &flag, &value);
        }
    }
}
