//! How results are shown: aligned tables for lists, YAML for one object, or raw JSON (`-o json`).

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// A column: its header and the JSON pointer of its value in each row. A pointer ending in `_at`
/// holds epoch milliseconds, shown as a UTC date.
pub type Column = (&'static str, &'static str);

pub fn list(format: Format, value: &Value, columns: &[Column]) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(value);
    }
    let rows: Vec<Vec<String>> = value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    columns
                        .iter()
                        .map(|(_, ptr)| match item.pointer(ptr) {
                            Some(Value::Number(n)) if ptr.ends_with("_at") => {
                                n.as_i64().map(date).unwrap_or_else(|| n.to_string())
                            }
                            other => cell(other),
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    print!("{}", table(columns, &rows));
    Ok(())
}

pub fn object(format: Format, value: &Value) -> anyhow::Result<()> {
    match format {
        Format::Json => json(value),
        Format::Table => {
            print!("{}", yaml_serde::to_string(value)?);
            Ok(())
        }
    }
}

fn json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Epoch milliseconds as a UTC date and time; `None` outside the years -9999 to 9999.
pub fn utc(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// Epoch milliseconds as the date and time in UTC, to the minute: `2026-12-01 03:27`; out of
/// range, the number itself, like any other number.
pub fn date(ms: i64) -> String {
    const TO_THE_MINUTE: &[BorrowedFormatItem<'_>] =
        format_description!("[year]-[month]-[day] [hour]:[minute]");
    utc(ms)
        .and_then(|t| t.format(TO_THE_MINUTE).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| cell(Some(v)))
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Object(map)) if map.len() == 1 => map
            .iter()
            .map(|(k, v)| format!("{k}:{}", cell(Some(v))))
            .collect(),
        Some(other) => other.to_string(),
    }
}

fn table(columns: &[Column], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|(h, _)| h.len()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let text: Vec<String> = cells
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut columns.iter().map(|(h, _)| *h));
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["a1b2".to_string(), "shop".to_string()],
            vec!["c".to_string(), "-".to_string()],
        ];
        assert_eq!(
            table(&[("ID", "/id"), ("NAME", "/name")], &rows),
            "ID    NAME\na1b2  shop\nc     -\n"
        );
    }

    #[test]
    fn times_show_as_utc_dates() {
        assert_eq!(date(0), "1970-01-01 00:00");
        assert_eq!(date(1_796_095_620_000), "2026-12-01 03:27");
        assert_eq!(date(951_782_400_000), "2000-02-29 00:00");
    }

    #[test]
    fn cells_flatten_nested_values() {
        assert_eq!(cell(Some(&serde_json::json!(["a:1", "b:2"]))), "a:1,b:2");
        assert_eq!(
            cell(Some(&serde_json::json!({"backend_id": "x"}))),
            "backend_id:x"
        );
        assert_eq!(cell(Some(&serde_json::json!(3))), "3");
    }
}
