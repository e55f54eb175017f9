//! Fortran list-directed input as the Acoustics Toolbox reads it (blanks or one comma
//! between values, quoted strings, `/` ending a read early, `r*c` repeats, `D` exponents,
//! `!` comments): the lexer under [`super`]'s `.env`/`.flp` semantics.

use super::{EnvError, MAX_LIST};

#[derive(Debug, Clone)]
pub(super) struct Val {
    pub(super) text: String,
    pub(super) quoted: bool,
}

#[derive(Debug, Clone)]
pub(super) enum Tok {
    Value(Val),
    Null,
    Slash,
}

#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) tok: Tok,
    pub(super) repeat: usize,
}

pub(super) struct Line {
    pub(super) number: usize,
    pub(super) items: Result<Vec<Item>, String>,
}

impl Line {
    pub(super) fn is_blank(&self) -> bool {
        matches!(&self.items, Ok(items) if items.is_empty())
    }
}

/// One value slot of a record: `None` for a null value (`,,`).
pub(super) struct Field {
    pub(super) value: Option<Val>,
    pub(super) line: usize,
}

/// The values of one READ.
pub(super) struct Record {
    pub(super) fields: Vec<Field>,
    /// The line the record starts on.
    pub(super) line: usize,
    /// The first value left over on the last line once the record was full.
    pub(super) extra: Option<(usize, String)>,
}

#[derive(Clone, Copy)]
pub(super) enum Span {
    /// The record must be on one line (or end with `/`).
    Line,
    /// The record may continue on following lines (lists).
    Lines,
}

pub(super) struct Reader {
    pub(super) lines: Vec<Line>,
    pub(super) next: usize,
}

impl Reader {
    pub(super) fn new(text: &str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines = text
            .lines()
            .enumerate()
            .map(|(i, s)| Line {
                number: i + 1,
                items: tokenize(s),
            })
            .collect();
        Reader { lines, next: 0 }
    }

    /// The line number reported for an unexpected end of file: one past the last line.
    pub(super) fn eof_line(&self) -> usize {
        self.lines.len() + 1
    }

    /// Index of the next line holding anything (values, a `/`, or a tokenizing error).
    pub(super) fn skip_blank(&mut self) -> Option<usize> {
        while let Some(line) = self.lines.get(self.next) {
            if line.is_blank() {
                self.next += 1;
            } else {
                return Some(self.next);
            }
        }
        None
    }

    pub(super) fn next_content_line(&mut self) -> Option<usize> {
        let i = self.skip_blank()?;
        self.lines.get(i).map(|l| l.number)
    }

    /// Reads one record of up to `max` values, starting on the next non-blank line.
    pub(super) fn read(&mut self, max: usize, span: Span, what: &str) -> Result<Record, EnvError> {
        let Some(mut idx) = self.skip_blank() else {
            return Err(EnvError::new(
                self.eof_line(),
                format!("unexpected end of file: expected {what}"),
            ));
        };
        let mut rec = Record {
            fields: Vec::new(),
            line: self.lines.get(idx).map_or(0, |l| l.number),
            extra: None,
        };
        loop {
            let Some(line) = self.lines.get(idx) else {
                return Err(EnvError::new(
                    self.eof_line(),
                    format!("unexpected end of file: expected {what}"),
                ));
            };
            self.next = idx + 1;
            let items = match &line.items {
                Ok(items) => items,
                Err(message) => return Err(EnvError::new(line.number, message.clone())),
            };
            let mut slash = false;
            for item in items {
                match &item.tok {
                    Tok::Slash => {
                        slash = true;
                        break;
                    }
                    tok => {
                        let room = max.saturating_sub(rec.fields.len());
                        let take = item.repeat.min(room);
                        let value = match tok {
                            Tok::Value(v) => Some(v.clone()),
                            _ => None,
                        };
                        for _ in 0..take {
                            rec.fields.push(Field {
                                value: value.clone(),
                                line: line.number,
                            });
                        }
                        if item.repeat > take
                            && rec.extra.is_none()
                            && let Some(v) = value
                        {
                            rec.extra = Some((line.number, v.text));
                        }
                    }
                }
            }
            if slash || rec.fields.len() >= max {
                return Ok(rec);
            }
            match span {
                Span::Line => {
                    return Err(EnvError::new(
                        line.number,
                        format!(
                            "{what}: only {} of {max} values on this line and no '/' to end it \
                             (Fortran would continue reading on the next line); end the line with '/'",
                            rec.fields.len()
                        ),
                    ));
                }
                Span::Lines => match self.skip_blank() {
                    Some(i) => idx = i,
                    None => {
                        return Err(EnvError::new(
                            self.eof_line(),
                            format!(
                                "unexpected end of file while reading {what}: {} of {max} values read and no '/' to end the list",
                                rec.fields.len()
                            ),
                        ));
                    }
                },
            }
        }
    }
}

impl Record {
    pub(super) fn value(&self, i: usize) -> Option<(&Val, usize)> {
        let field = self.fields.get(i)?;
        field.value.as_ref().map(|v| (v, field.line))
    }

    /// The line of field `i`, or the record's first line if it was not given.
    pub(super) fn line_of(&self, i: usize) -> usize {
        self.fields.get(i).map_or(self.line, |f| f.line)
    }

    pub(super) fn missing(&self, i: usize, name: &str) -> EnvError {
        EnvError::new(self.line_of(i), format!("{name} is missing"))
    }

    pub(super) fn opt_real(&self, i: usize, name: &str) -> Result<Option<f64>, EnvError> {
        self.value(i)
            .map(|(v, line)| parse_real(v, name, line))
            .transpose()
    }

    pub(super) fn req_real(&self, i: usize, name: &str) -> Result<f64, EnvError> {
        self.opt_real(i, name)?.ok_or_else(|| self.missing(i, name))
    }

    pub(super) fn req_int(&self, i: usize, name: &str) -> Result<i64, EnvError> {
        let (v, line) = self.value(i).ok_or_else(|| self.missing(i, name))?;
        if v.quoted {
            return Err(EnvError::new(
                line,
                format!("{name}: expected an integer, found the string '{}'", v.text),
            ));
        }
        v.text.parse::<i64>().map_err(|_| {
            EnvError::new(
                line,
                format!("{name}: expected an integer, found '{}'", v.text),
            )
        })
    }

    pub(super) fn req_str(&self, i: usize, name: &str) -> Result<String, EnvError> {
        let (v, _) = self.value(i).ok_or_else(|| self.missing(i, name))?;
        Ok(v.text.clone())
    }
}

pub(super) fn parse_real(v: &Val, name: &str, line: usize) -> Result<f64, EnvError> {
    let t = v.text.as_str();
    if v.quoted {
        return Err(EnvError::new(
            line,
            format!("{name}: expected a number, found the string '{t}'"),
        ));
    }
    let lower = t.to_ascii_lowercase();
    if lower.contains("nan") {
        return Err(EnvError::new(
            line,
            format!("{name} is NaN; a finite number is required"),
        ));
    }
    if lower.contains("inf") {
        return Err(EnvError::new(
            line,
            format!("{name} = {t} is infinite; a finite number is required"),
        ));
    }
    // Fortran double-precision exponent: 1.5D3.
    let normalized: String = t
        .chars()
        .map(|c| if c == 'd' || c == 'D' { 'e' } else { c })
        .collect();
    match normalized.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(EnvError::new(
            line,
            format!("{name} = {t} overflows; a finite number is required"),
        )),
        Err(_) => Err(EnvError::new(
            line,
            format!("{name}: '{t}' is not a number"),
        )),
    }
}

/// Splits one line into list-directed items. Stops at `!` (comment) and after a `/`.
pub(super) fn tokenize(s: &str) -> Result<Vec<Item>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut items = Vec::new();
    let mut i = 0;
    // Whether a value has been seen since the last comma (or the start of the line).
    let mut value_since_comma = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '!' => break,
            '/' => {
                items.push(Item {
                    tok: Tok::Slash,
                    repeat: 1,
                });
                break;
            }
            ',' => {
                if !value_since_comma {
                    items.push(Item {
                        tok: Tok::Null,
                        repeat: 1,
                    });
                }
                value_since_comma = false;
                i += 1;
            }
            '\'' | '"' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!(
                                "unterminated string: no closing {quote} on this line"
                            ));
                        }
                        Some(&ch) if ch == quote => {
                            if chars.get(i + 1) == Some(&quote) {
                                text.push(quote);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                items.push(Item {
                    tok: Tok::Value(Val { text, quoted: true }),
                    repeat: 1,
                });
                value_since_comma = true;
            }
            _ => {
                let start = i;
                while i < chars.len() {
                    let ch = chars[i];
                    if ch.is_whitespace() || matches!(ch, ',' | '/' | '!') {
                        break;
                    }
                    i += 1;
                }
                let text: String = chars.get(start..i).unwrap_or(&[]).iter().collect();
                items.push(repeat_item(&text)?);
                value_since_comma = true;
            }
        }
    }
    Ok(items)
}

/// An unquoted value, expanding a Fortran repeat count `r*c` (or `r*` for r null values).
pub(super) fn repeat_item(text: &str) -> Result<Item, String> {
    if let Some((count, rest)) = text.split_once('*')
        && !count.is_empty()
        && count.chars().all(|c| c.is_ascii_digit())
    {
        let repeat = match count.parse::<usize>() {
            Ok(r) if (1..=MAX_LIST).contains(&r) => r,
            _ => {
                return Err(format!(
                    "repeat count in '{text}' must be between 1 and {MAX_LIST}"
                ));
            }
        };
        let tok = if rest.is_empty() {
            Tok::Null
        } else {
            Tok::Value(Val {
                text: rest.to_string(),
                quoted: false,
            })
        };
        return Ok(Item { tok, repeat });
    }
    Ok(Item {
        tok: Tok::Value(Val {
            text: text.to_string(),
            quoted: false,
        }),
        repeat: 1,
    })
}
