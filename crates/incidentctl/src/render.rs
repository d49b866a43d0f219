//! Output: aligned tables for people, JSON for scripts.

use crate::cli::Output;
use serde::Serialize;

/// Prints `value` as JSON, or calls `table` to print it for people.
pub fn emit<T: Serialize>(output: Output, value: &T, table: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Output::Table => print!("{}", table(value)),
    }
    Ok(())
}

/// A plain aligned table; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Seconds as `1h02m`, `3m05s` or `42s`.
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// Prints what the command API answered: its one line, or its data for scripts.
pub fn said(out: Output, reply: &incident_core::command::Reply) -> anyhow::Result<()> {
    let data = if reply.data.is_null() {
        serde_json::json!({ "message": reply.message })
    } else {
        reply.data.clone()
    };
    emit(out, &data, |_| format!("{}\n", reply.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["ID", "STATUS"],
            &[vec!["inc-1".into(), "open".into()], vec!["i".into(), "x".into()]],
        );
        assert_eq!(t, "ID     STATUS\ninc-1  open\ni      x\n");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(185), "3m05s");
        assert_eq!(duration(3720), "1h02m");
    }
}
