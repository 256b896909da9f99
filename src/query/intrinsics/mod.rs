//! Intrinsic functions (`States.Format`, `States.MathAdd`, ...): a parser from text to an
//! [`Intrinsic`] AST ([`parser`]) and an evaluator with AWS's argument rules ([`eval`]).

pub mod eval;
pub mod parser;

pub use eval::{MAX_RANGE_LEN, MAX_STRING_ARG};
pub use parser::{parse_intrinsic, Arg, Call, Func, Intrinsic, IntrinsicSyntaxError, MAX_NESTING};
