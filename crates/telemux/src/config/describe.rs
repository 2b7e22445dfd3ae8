//! Figment's configuration errors reworded for people: dotted key paths, the
//! nearest valid key for a typo, and never a secret's value or a file's line.

/// Figment's errors in the config's own words: an unknown key is named by its
/// dotted path with the nearest valid key ("unknown key 'redis.ulr'; did you
/// mean 'redis.url'?"), because a typo must never fall back to a default silently.
pub(super) fn describe(e: figment::Error) -> String {
    let parts: Vec<String> = e
        .into_iter()
        .map(|e| {
            let from_env = e
                .metadata
                .as_ref()
                .is_some_and(|m| m.name.contains("environment"));
            match &e.kind {
                figment::error::Kind::UnknownField(field, expected) => {
                    unknown_key(&e.path, field, expected, from_env)
                }
                kind if !e.path.is_empty() => {
                    // Figment would say `for key "default.node.heartbeat_ms"`.
                    let key = e.path.join(".").to_ascii_lowercase();
                    if SECRET_KEYS.contains(&key.as_str()) {
                        return secret_type_error(&key, from_env);
                    }
                    format!("{kind} for key '{key}'{}", env_source(&key, from_env))
                }
                _ => without_source_lines(&e.to_string()),
            }
        })
        .collect();
    parts.join("; ")
}

/// Keys whose values are secrets: never quoted in an error or a listing.
const SECRET_KEYS: [&str; 4] = ["telegram.token", "mcp.token", "mesh.key", "redis.url"];

/// A secret of the wrong type, described without its value (figment's own
/// text quotes it: "found unsigned int `1234...`").
fn secret_type_error(key: &str, from_env: bool) -> String {
    let file_key = if key == "redis.url" {
        "redis.url_file".to_string()
    } else {
        format!("{key}_file")
    };
    let hint = if from_env {
        let var = format!("TELEMUX_{}", key.replace('.', "__").to_ascii_uppercase());
        format!(
            " (from the environment variable {var}, where a value of only digits, true/false or [...] is read as a number, boolean or list: wrap it in double quotes, {var}='\"...\"', or put it in {file_key})"
        )
    } else {
        format!(" (quote it in the TOML file, or put it in {file_key})")
    };
    format!("{key} must be a string; the value is not shown because it is a secret{hint}")
}

/// A TOML syntax error without the quoted source line: that line may hold a
/// secret (`token = "...`). Line and column still say where to look.
fn without_source_lines(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| {
            let after_number = l.trim_start_matches(|c: char| c.is_ascii_digit());
            !l.is_empty() && !after_number.trim_start().starts_with('|')
        })
        .collect::<Vec<_>>()
        .join(": ")
}

/// The valid key closest to a misspelled one. Edit distance with
/// transpositions catches short keys (`ulr` → `url`) that a prefix-weighted
/// similarity misses; the name suggester catches truncations (`heartbeat` →
/// `heartbeat_ms`).
fn nearest_key<'a>(field: &str, expected: &[&'a str]) -> Option<&'a str> {
    let lower = field.to_ascii_lowercase();
    let by_edits = expected
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&lower, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k);
    by_edits.or_else(|| {
        let best = telemux_proto::names::suggest(field, expected.iter().copied());
        let best = best.first()?;
        expected.iter().copied().find(|k| k == best)
    })
}

/// " (from the environment variable TELEMUX_A__B)" when the value came from there.
fn env_source(key: &str, from_env: bool) -> String {
    if from_env {
        format!(
            " (from the environment variable TELEMUX_{})",
            key.replace('.', "__").to_ascii_uppercase()
        )
    } else {
        String::new()
    }
}

/// "unknown key 'a.b'; did you mean 'a.c'?" for `field` found under `path`.
fn unknown_key(path: &[String], field: &str, expected: &[&str], from_env: bool) -> String {
    // Figment's path may or may not already end with the offending field.
    let parent = match path.split_last() {
        Some((last, init)) if last == field => init,
        _ => path,
    };
    let dotted = |k: &str| {
        parent
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(k))
            .collect::<Vec<_>>()
            .join(".")
    };
    let key = dotted(field);
    let source = env_source(&key, from_env);
    match nearest_key(field, expected) {
        Some(n) => format!("unknown key '{key}'{source}; did you mean '{}'?", dotted(n)),
        None => {
            let valid: Vec<String> = expected.iter().map(|k| dotted(k)).collect();
            format!(
                "unknown key '{key}'{source}; valid keys here: {}",
                valid.join(", ")
            )
        }
    }
}
