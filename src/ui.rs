//! The one output layer: data on stdout (text or `--json`), status and
//! warnings on stderr, colour only when asked or on a terminal without
//! `NO_COLOR`. Commands print through this and nothing else.

use anstyle::{AnsiColor, Style};
use serde::Serialize;
use std::io::{self, Write};

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ColorWhen {
    #[default]
    Auto,
    Always,
    Never,
}

pub struct Ui {
    pub json: bool,
    pub quiet: bool,
    out: anstream::AutoStream<Box<dyn Write>>,
    err: anstream::AutoStream<Box<dyn Write>>,
}

/// What a [`Ui::buffered`] wrote: stdout's and stderr's bytes.
#[derive(Debug, Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<(Vec<u8>, Vec<u8>)>>);

impl Captured {
    /// `(stdout, stderr)` as text so far.
    pub fn text(&self) -> (String, String) {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (
            String::from_utf8_lossy(&guard.0).into_owned(),
            String::from_utf8_lossy(&guard.1).into_owned(),
        )
    }

    fn writer(&self, stderr: bool) -> Box<dyn Write> {
        Box::new(CaptureWriter {
            into: self.clone(),
            stderr,
        })
    }
}

struct CaptureWriter {
    into: Captured,
    stderr: bool,
}

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut guard = self.into.0.lock().unwrap_or_else(|e| e.into_inner());
        let target = if self.stderr {
            &mut guard.1
        } else {
            &mut guard.0
        };
        target.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How wide lines of the dashboard may be: on a terminal its width
/// (`COLUMNS` if set, else the terminal's, else 80); elsewhere `COLUMNS`
/// if set, else no limit (a pipe or a file gets every word).
pub fn columns() -> Option<usize> {
    use std::io::IsTerminal;
    let env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0);
    if !io::stdout().is_terminal() {
        return env;
    }
    Some(env.or_else(terminal_width).unwrap_or(80))
}

/// The terminal's width, from the kernel.
fn terminal_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills the winsize it is given, on a descriptor
    // that stays open; a failure leaves it zeroed.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(size.ws_col as usize)
}

pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const GOOD: Style = AnsiColor::Green.on_default();
pub const WARN: Style = AnsiColor::Yellow.on_default().bold();
pub const BAD: Style = AnsiColor::Red.on_default().bold();
pub const ID: Style = AnsiColor::Cyan.on_default();

impl Ui {
    pub fn new(json: bool, quiet: bool, color: ColorWhen) -> Ui {
        let choice = match color {
            // AutoStream honours NO_COLOR, CLICOLOR_FORCE and the terminal.
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
        // Resolve "auto" against the real stdout, then buffer: a line-buffered
        // stdout costs one syscall per line of a 40k-task listing.
        let resolved = if json {
            // JSON escapes control characters itself, so nothing can need
            // stripping: pass it through instead of scanning every byte.
            anstream::ColorChoice::Always
        } else {
            anstream::AutoStream::choice(&io::stdout())
        };
        let raw: Box<dyn Write> = Box::new(io::BufWriter::with_capacity(64 * 1024, io::stdout()));
        let out = anstream::AutoStream::new(raw, resolved);
        let err_choice = anstream::AutoStream::choice(&io::stderr());
        let err: Box<dyn Write> = Box::new(io::stderr());
        Ui {
            json,
            quiet,
            out,
            err: anstream::AutoStream::new(err, err_choice),
        }
    }

    /// A Ui that writes into memory, without colour: for running commands
    /// in-process and reading what they print.
    pub fn buffered(json: bool, quiet: bool) -> (Ui, Captured) {
        let captured = Captured::default();
        let ui = Ui {
            json,
            quiet,
            out: anstream::AutoStream::new(captured.writer(false), anstream::ColorChoice::Never),
            err: anstream::AutoStream::new(captured.writer(true), anstream::ColorChoice::Never),
        };
        (ui, captured)
    }

    /// Where data goes.
    pub fn out(&mut self) -> &mut impl Write {
        &mut self.out
    }

    /// One line of data on stdout.
    pub fn line(&mut self, text: impl std::fmt::Display) -> io::Result<()> {
        writeln!(self.out, "{}", terminal_safe(&text.to_string()))
    }

    /// A confirmation of what a command did, on stdout; silenced by
    /// `--quiet` (data a script needs, like a new id, uses [`Ui::line`]).
    pub fn done(&mut self, text: impl std::fmt::Display) -> io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        writeln!(self.out, "{}", terminal_safe(&text.to_string()))
    }

    /// A value as pretty JSON on stdout.
    pub fn json_value<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut self.out, value)?;
        writeln!(self.out)
    }

    /// A progress or status message on stderr (silenced by `--quiet`, and
    /// in `--json` mode where stderr is for warnings and errors only).
    pub fn status(&mut self, text: impl std::fmt::Display) {
        if !self.quiet && !self.json {
            let _ = writeln!(self.err, "{}", terminal_safe(&text.to_string()));
        }
    }

    /// A warning on stderr; shown even with `--quiet`.
    pub fn warn(&mut self, text: impl std::fmt::Display) {
        let _ = writeln!(
            self.err,
            "{WARN}warning:{WARN:#} {}",
            terminal_safe(&text.to_string())
        );
    }

    /// Writes raw text to stderr (errors).
    pub fn err_text(&mut self, text: &str) {
        let _ = self.err.write_all(terminal_safe(text).as_bytes());
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Everything printed as text goes through here: every control character
/// but a newline and a tab is shown in caret notation (`^[` for ESC, `^G`
/// for BEL), so nothing a task, a receipt or a worker's output says can set
/// the window title, write the clipboard or move the cursor. Only the
/// colours [`paint`] marks pass as colours. `--json` keeps the exact text
/// (JSON escapes control characters itself).
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| needs_escape(c) || c == MARK) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        if c == MARK
            && let Some((inner, after)) = rest.split_once(END)
            && is_colour(inner)
        {
            out.push_str(inner);
            rest = after;
        } else if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Marks around the colour sequences [`paint`] makes, so that
/// [`terminal_safe`] can tell them from an `ESC` that came with the text.
const MARK: char = '\u{E000}';
const END: char = '\u{E001}';

fn needs_escape(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

fn push_escaped(out: &mut String, c: char) {
    match c as u32 {
        n @ 0..=0x1f => {
            out.push('^');
            out.push(char::from(b'@' + n as u8));
        }
        0x7f => out.push_str("^?"),
        n => out.push_str(&format!("\\u{{{n:x}}}")),
    }
}

/// Whether `text` is nothing but colour sequences (`ESC [ digits/; m`).
fn is_colour(mut text: &str) -> bool {
    while !text.is_empty() {
        let Some(rest) = text.strip_prefix("\u{1b}[") else {
            return false;
        };
        let params = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b';')
            .count();
        if rest.as_bytes().get(params) != Some(&b'm') {
            return false;
        }
        text = &rest[params + 1..];
    }
    true
}

/// Wraps `text` in `style` (the stream strips it when colour is off).
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{MARK}{style}{END}{text}{MARK}{style:#}{END}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_from_task_data_are_shown_not_run() {
        // OSC 0 (window title) and OSC 52 (clipboard), BEL-terminated.
        let title = "\u{1b}]0;pwned\u{7}\u{1b}]52;c;ZWNobyBoaQ==\u{7}ok";
        assert_eq!(terminal_safe(title), "^[]0;pwned^G^[]52;c;ZWNobyBoaQ==^Gok");
        assert_eq!(
            terminal_safe("two\nlines\tand a tab"),
            "two\nlines\tand a tab"
        );
        assert_eq!(terminal_safe("c1 \u{9b}2J"), "c1 \\u{9b}2J");
        // A colour a title brings is text too; the colours we paint pass.
        assert_eq!(terminal_safe("\u{1b}[31mred"), "^[[31mred");
        let painted = paint(BOLD, "x");
        assert_eq!(terminal_safe(&painted), format!("{BOLD}x{BOLD:#}"));
        // A forged mark around anything but colour is escaped.
        let forged = format!("{MARK}\u{1b}]0;t\u{7}{END}");
        assert!(!terminal_safe(&forged).contains('\u{1b}'));
    }
}
