//! Arithmetic over a row's columns (`formula` columns): numbers, column names,
//! `+ - * /`, parentheses, and `abs`, `min`, `max`, `round`. Parsed once, evaluated
//! over whole columns.

/// A parsed expression; columns are indices into the table.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number.
    Number(f64),
    /// A column of the row.
    Column(usize),
    /// `-x`.
    Neg(Box<Expr>),
    /// `a op b`.
    Binary(Box<Expr>, BinOp, Box<Expr>),
    /// A function call.
    Call(Func, Vec<Expr>),
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
}

/// A function of the formula language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// `abs(x)`.
    Abs,
    /// `min(a, b, ...)`.
    Min,
    /// `max(a, b, ...)`.
    Max,
    /// `round(x)` or `round(x, digits)`.
    Round,
}

impl Expr {
    /// Parses `text`; `column` resolves a name to a column index.
    ///
    /// # Errors
    /// What is wrong and where, e.g. `unknown column 'qty' at 1; columns: ...`.
    pub fn parse(text: &str, column: &dyn Fn(&str) -> Option<usize>) -> Result<Expr, String> {
        let mut p = Parser {
            src: text.as_bytes(),
            at: 0,
            column,
        };
        let e = p.sum()?;
        p.skip_space();
        if p.at < p.src.len() {
            return Err(format!("unexpected '{}' at {}", &text[p.at..], p.at + 1));
        }
        Ok(e)
    }

    /// The columns the expression reads.
    pub fn columns(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Number(_) => {}
            Expr::Column(c) => out.push(*c),
            Expr::Neg(e) => e.columns(out),
            Expr::Binary(a, _, b) => {
                a.columns(out);
                b.columns(out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.columns(out)),
        }
    }

    /// The values of `n` rows at once; `column(c)` is column `c`'s values (whatever is
    /// in a null slot, as the caller masks nulls).
    pub fn eval_columns<'a>(&self, n: usize, column: &dyn Fn(usize) -> &'a [f64]) -> Vec<f64> {
        match self {
            Expr::Number(x) => vec![*x; n],
            Expr::Column(c) => column(*c).to_vec(),
            Expr::Neg(e) => {
                let mut v = e.eval_columns(n, column);
                v.iter_mut().for_each(|x| *x = -*x);
                v
            }
            Expr::Binary(a, op, b) => {
                let mut l = a.eval_columns(n, column);
                let r = b.eval_columns(n, column);
                let f: fn(f64, f64) -> f64 = match op {
                    BinOp::Add => |x, y| x + y,
                    BinOp::Sub => |x, y| x - y,
                    BinOp::Mul => |x, y| x * y,
                    BinOp::Div => |x, y| x / y,
                };
                l.iter_mut().zip(&r).for_each(|(x, y)| *x = f(*x, *y));
                l
            }
            Expr::Call(f, args) => {
                let vals: Vec<Vec<f64>> = args.iter().map(|a| a.eval_columns(n, column)).collect();
                (0..n)
                    .map(|i| match f {
                        Func::Abs => vals[0][i].abs(),
                        Func::Min => vals.iter().map(|v| v[i]).fold(f64::INFINITY, f64::min),
                        Func::Max => vals.iter().map(|v| v[i]).fold(f64::NEG_INFINITY, f64::max),
                        Func::Round => {
                            round_to(vals[0][i], vals.get(1).map_or(0.0, |v| v[i]) as i32)
                        }
                    })
                    .collect()
            }
        }
    }
}

/// Rounds half away from zero to `digits` after the point.
pub fn round_to(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

struct Parser<'a> {
    src: &'a [u8],
    at: usize,
    column: &'a dyn Fn(&str) -> Option<usize>,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.at < self.src.len() && self.src[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.src.get(self.at).copied()
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        while let Some(c @ (b'+' | b'-')) = self.peek() {
            self.at += 1;
            let right = self.product()?;
            let op = if c == b'+' { BinOp::Add } else { BinOp::Sub };
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some(c @ (b'*' | b'/')) = self.peek() {
            self.at += 1;
            let right = self.unary()?;
            let op = if c == b'*' { BinOp::Mul } else { BinOp::Div };
            left = Expr::Binary(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some(b'-') => {
                self.at += 1;
                Ok(Expr::Neg(Box::new(self.unary()?)))
            }
            Some(b'+') => {
                self.at += 1;
                self.unary()
            }
            _ => self.atom(),
        }
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let start = self.at;
        match self.peek() {
            None => Err("unexpected end of the expression".into()),
            Some(b'(') => {
                self.at += 1;
                let e = self.sum()?;
                if self.peek() != Some(b')') {
                    return Err(format!("missing ')' at {}", self.at + 1));
                }
                self.at += 1;
                Ok(e)
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => {
                let begin = self.at;
                while self.at < self.src.len()
                    && (self.src[self.at].is_ascii_digit()
                        || self.src[self.at] == b'.'
                        || self.src[self.at] == b'e'
                        || self.src[self.at] == b'E')
                {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.src[begin..self.at]).expect("ASCII");
                text.parse()
                    .map(Expr::Number)
                    .map_err(|_| format!("bad number '{text}' at {}", begin + 1))
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                let begin = self.at;
                while self.at < self.src.len()
                    && (self.src[self.at].is_ascii_alphanumeric() || self.src[self.at] == b'_')
                {
                    self.at += 1;
                }
                let name = std::str::from_utf8(&self.src[begin..self.at]).expect("ASCII");
                if self.peek() == Some(b'(') {
                    self.at += 1;
                    let func = match name {
                        "abs" | "np_abs" => Func::Abs,
                        "min" | "np_minimum" => Func::Min,
                        "max" | "np_maximum" => Func::Max,
                        "round" | "np_round" => Func::Round,
                        _ => {
                            return Err(format!(
                                "unknown function '{name}' at {}; functions: abs, min, max, round",
                                begin + 1
                            ));
                        }
                    };
                    let mut args = vec![self.sum()?];
                    while self.peek() == Some(b',') {
                        self.at += 1;
                        args.push(self.sum()?);
                    }
                    if self.peek() != Some(b')') {
                        return Err(format!("missing ')' at {}", self.at + 1));
                    }
                    self.at += 1;
                    let arity_ok = match func {
                        Func::Abs => args.len() == 1,
                        Func::Round => args.len() <= 2,
                        Func::Min | Func::Max => args.len() >= 2,
                    };
                    if !arity_ok {
                        return Err(format!(
                            "wrong number of arguments to '{name}' at {}",
                            begin + 1
                        ));
                    }
                    return Ok(Expr::Call(func, args));
                }
                (self.column)(name)
                    .map(Expr::Column)
                    .ok_or_else(|| format!("unknown column '{name}' at {}", begin + 1))
            }
            Some(_) => Err(format!(
                "unexpected '{}' at {}",
                String::from_utf8_lossy(&self.src[start..]).trim(),
                self.at + 1
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(name: &str) -> Option<usize> {
        ["quantity", "unit_price", "discount_percent"]
            .iter()
            .position(|c| *c == name)
    }

    fn one_row(e: &Expr, row: [f64; 3]) -> f64 {
        let data = row.map(|x| vec![x]);
        e.eval_columns(1, &|c| &data[c])[0]
    }

    #[test]
    fn parses_and_evaluates_with_precedence() {
        let e = Expr::parse(
            "quantity * unit_price * (1 - discount_percent / 100)",
            &cols,
        )
        .unwrap();
        assert!((one_row(&e, [3.0, 10.0, 20.0]) - 24.0).abs() < 1e-12);
        let e = Expr::parse(
            "-2 + 3 * 4 - round(2.345, 2) + max(1, 5, 2) + abs(-1) + min(4, 3)",
            &cols,
        )
        .unwrap();
        assert!((one_row(&e, [0.0; 3]) - (-2.0 + 12.0 - 2.35 + 5.0 + 1.0 + 3.0)).abs() < 1e-9);
    }

    #[test]
    fn columns_at_once_equal_row_by_row() {
        let e = Expr::parse("quantity * unit_price * (1 - discount_percent / 100) + max(quantity, 2) - round(unit_price, 1)", &cols).unwrap();
        let data = [
            vec![1.0, 2.0, 3.0],
            vec![9.99, 0.05, 12.5],
            vec![0.0, 15.0, 100.0],
        ];
        let at_once = e.eval_columns(3, &|c| &data[c]);
        for (i, v) in at_once.iter().enumerate() {
            assert_eq!(*v, one_row(&e, [data[0][i], data[1][i], data[2][i]]));
        }
    }

    #[test]
    fn errors_name_the_place() {
        let err = Expr::parse("qty * 2", &cols).unwrap_err();
        assert!(err.contains("unknown column 'qty' at 1"), "{err}");
        let err = Expr::parse("(quantity * 2", &cols).unwrap_err();
        assert!(err.contains("missing ')'"), "{err}");
        let err = Expr::parse("sqrt(quantity)", &cols).unwrap_err();
        assert!(err.contains("unknown function 'sqrt'"), "{err}");
        assert!(Expr::parse("quantity *", &cols).is_err());
        assert!(Expr::parse("quantity 2", &cols).is_err());
    }
}
