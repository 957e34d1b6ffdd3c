//! C preprocessor conditions (`#if`, `#elif`, `#ifdef`), evaluated as far as the code graph can
//! know them. A C file often defines a macro more than once, in the branches of an `#if`
//! (`#if defined(DEBUG)` / `#else`); which branch a build takes depends on the compiler and the
//! build's flags. Extraction keeps, beside such a definition, the condition under which it is
//! compiled; a definition asks which of them a default build on this kind of machine takes: the
//! compiler's own names (`__GNUC__`, `__linux__`, `__x86_64__`) are defined, a name no file of the
//! workspace defines is not (a flag a build may pass), and anything else is not known.
//!
//! Values are `Option<i64>`: `None` is "not known", and the logic is three-valued (`0 && x` is 0,
//! `1 || x` is 1 whatever `x` is).

/// Whether a condition holds in a default build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    Unknown,
}

/// Names a gcc or clang compiling C for Linux on x86-64 defines itself (and the feature tests
/// they answer). `__cplusplus` is added for C++ files by the caller.
pub const PREDEFINED: [&str; 30] = [
    "__ELF__",
    "__GNUC_MINOR__",
    "__GNUC_PATCHLEVEL__",
    "__GNUC__",
    "__LP64__",
    "__ORDER_BIG_ENDIAN__",
    "__ORDER_LITTLE_ENDIAN__",
    "__BYTE_ORDER__",
    "__CHAR_BIT__",
    "__SIZEOF_INT128__",
    "__SIZEOF_LONG__",
    "__SIZEOF_POINTER__",
    "__STDC_HOSTED__",
    "__STDC_VERSION__",
    "__STDC__",
    "__amd64__",
    "__clang__",
    "__gnu_linux__",
    "__has_attribute",
    "__has_builtin",
    "__has_feature",
    "__has_include",
    "__linux",
    "__linux__",
    "__unix",
    "__unix__",
    "__x86_64",
    "__x86_64__",
    "_LP64",
    "linux",
];

/// Evaluates `condition`; `defined` says whether a name is defined (`None`: not known).
pub fn evaluate(condition: &str, defined: &dyn Fn(&str) -> Option<bool>) -> Truth {
    let tokens = tokens(condition);
    let mut p = Parser {
        tokens: &tokens,
        at: 0,
        defined,
    };
    let value = p.expression(0);
    if p.at != tokens.len() {
        return Truth::Unknown;
    }
    match value {
        Some(0) => Truth::False,
        Some(_) => Truth::True,
        None => Truth::Unknown,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(Option<i64>),
    Name(String),
    Op(&'static str),
}

/// The operators, longest first so that `<=` is not read as `<`.
const OPS: [&str; 23] = [
    "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "(", ")", "!", "~", "*", "/", "%", "+", "-",
    "<", ">", "&", "^", "|", "?",
];

fn tokens(s: &str) -> Vec<Token> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() || c == b'\\' {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            out.push(Token::Number(number(&s[start..i])));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Token::Name(s[start..i].to_owned()));
        } else if let Some(op) = OPS.iter().find(|op| s[i..].starts_with(**op)) {
            out.push(Token::Op(op));
            i += op.len();
        } else {
            // A character literal, a `:` of `?:`, anything else: the value is not known.
            out.push(Token::Number(None));
            i += s[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// An integer literal's value (`0x1F`, `10UL`); `None` for anything else.
fn number(s: &str) -> Option<i64> {
    let digits = s.trim_end_matches(['u', 'U', 'l', 'L']);
    if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()
    } else {
        digits.parse().ok()
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    defined: &'a dyn Fn(&str) -> Option<bool>,
}

/// Binary operators and their precedence (higher binds tighter).
fn precedence(op: &str) -> Option<u8> {
    Some(match op {
        "||" => 1,
        "&&" => 2,
        "|" => 3,
        "^" => 4,
        "&" => 5,
        "==" | "!=" => 6,
        "<" | "<=" | ">" | ">=" => 7,
        "<<" | ">>" => 8,
        "+" | "-" => 9,
        "*" | "/" | "%" => 10,
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Token::Op(o)) if *o == op) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expression(&mut self, min: u8) -> Option<i64> {
        let mut left = self.unary();
        while let Some(Token::Op(op)) = self.peek() {
            let op = *op;
            let Some(p) = precedence(op) else { break };
            if p < min {
                break;
            }
            self.at += 1;
            let right = self.expression(p + 1);
            left = binary(op, left, right);
        }
        // `c ? a : b` is not followed: its value is not known.
        if self.eat("?") {
            self.at = self.tokens.len();
            return None;
        }
        left
    }

    fn unary(&mut self) -> Option<i64> {
        let token = self.peek().cloned()?;
        self.at += 1;
        match token {
            Token::Number(n) => n,
            Token::Op("!") => self.unary().map(|v| i64::from(v == 0)),
            Token::Op("-") => self.unary().map(i64::wrapping_neg),
            Token::Op("~") => self.unary().map(|v| !v),
            Token::Op("+") => self.unary(),
            Token::Op("(") => {
                let v = self.expression(0);
                if !self.eat(")") {
                    self.at = self.tokens.len();
                    return None;
                }
                v
            }
            Token::Name(name) if name == "defined" => {
                let parenthesized = self.eat("(");
                let Some(Token::Name(name)) = self.peek().cloned() else {
                    return None;
                };
                self.at += 1;
                if parenthesized && !self.eat(")") {
                    return None;
                }
                (self.defined)(&name).map(i64::from)
            }
            Token::Name(name) => {
                // A function-like macro's call: its value is not known.
                if self.eat("(") {
                    let mut depth = 1;
                    while depth > 0 && self.at < self.tokens.len() {
                        match &self.tokens[self.at] {
                            Token::Op("(") => depth += 1,
                            Token::Op(")") => depth -= 1,
                            _ => {}
                        }
                        self.at += 1;
                    }
                    return None;
                }
                // A name no one defines is 0 in a condition; a defined one's value is not known.
                match (self.defined)(&name) {
                    Some(false) => Some(0),
                    _ => None,
                }
            }
            Token::Op(_) => None,
        }
    }
}

fn binary(op: &str, a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match op {
        "&&" => match (a, b) {
            (Some(0), _) | (_, Some(0)) => Some(0),
            (Some(_), Some(_)) => Some(1),
            _ => None,
        },
        "||" => match (a, b) {
            (Some(x), _) | (_, Some(x)) if x != 0 => Some(1),
            (Some(_), Some(_)) => Some(0),
            _ => None,
        },
        _ => {
            let (a, b) = (a?, b?);
            Some(match op {
                "|" => a | b,
                "^" => a ^ b,
                "&" => a & b,
                "==" => i64::from(a == b),
                "!=" => i64::from(a != b),
                "<" => i64::from(a < b),
                "<=" => i64::from(a <= b),
                ">" => i64::from(a > b),
                ">=" => i64::from(a >= b),
                "<<" => a.checked_shl(u32::try_from(b).ok()?)?,
                ">>" => a.checked_shr(u32::try_from(b).ok()?)?,
                "+" => a.wrapping_add(b),
                "-" => a.wrapping_sub(b),
                "*" => a.wrapping_mul(b),
                "/" => a.checked_div(b)?,
                "%" => a.checked_rem(b)?,
                _ => return None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(condition: &str) -> Truth {
        // DEBUG and LOG nobody defines; CONFIG is a macro of the workspace; __GNUC__ the compiler's.
        evaluate(condition, &|name| match name {
            "CONFIG" | "VERSION_CHECK" => None,
            n if PREDEFINED.contains(&n) => Some(true),
            _ => Some(false),
        })
    }

    #[test]
    fn defined_names_and_the_logic_of_what_is_not_known() {
        assert_eq!(eval("defined(DEBUG)"), Truth::False);
        assert_eq!(eval("!defined DEBUG"), Truth::True);
        assert_eq!(eval("defined(__GNUC__) && !defined(_WIN32)"), Truth::True);
        assert_eq!(eval("defined(DEBUG) || defined(LOG)"), Truth::False);
        assert_eq!(eval("defined(CONFIG)"), Truth::Unknown);
        assert_eq!(eval("defined(CONFIG) && defined(DEBUG)"), Truth::False);
        assert_eq!(eval("defined(CONFIG) || defined(__linux__)"), Truth::True);
        assert_eq!(eval("!(defined(CONFIG))"), Truth::Unknown);
        // A name nobody defines is 0; a function-like macro's value is not known.
        assert_eq!(eval("DEBUG"), Truth::False);
        assert_eq!(eval("VERSION_CHECK(3, 3, 0) || DEBUG"), Truth::Unknown);
        assert_eq!(eval("VERSION_CHECK(3, 3, 0) && DEBUG"), Truth::False);
        assert_eq!(
            eval("defined(__BYTE_ORDER__) && (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)"),
            Truth::Unknown
        );
    }

    #[test]
    fn numbers_and_arithmetic() {
        assert_eq!(eval("0"), Truth::False);
        assert_eq!(eval("1"), Truth::True);
        assert_eq!(eval("0x10 >> 4 == 1"), Truth::True);
        assert_eq!(eval("(2 + 3) * 2 > 9"), Truth::True);
        assert_eq!(eval("010 == 8"), Truth::True);
        assert_eq!(eval("1UL"), Truth::True);
        assert_eq!(eval("1 / 0"), Truth::Unknown);
        assert_eq!(eval("'a' == 97"), Truth::Unknown);
        assert_eq!(eval("DEBUG ? 1 : 0"), Truth::Unknown);
        assert_eq!(eval("(1"), Truth::Unknown);
        assert_eq!(eval("1 )"), Truth::Unknown);
        assert_eq!(eval(""), Truth::Unknown);
    }
}
