//! The one error type of the crate, with a stable machine-readable code.

use std::fmt;

/// Stable error codes, shared with the JS wrapper as `OnnxletError.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The bytes are not an ONNX model tract can read, or the graph is inconsistent.
    InvalidModel,
    /// The model uses an operator (or operator version) onnxlet does not implement.
    UnsupportedOperator,
    /// A feed has the wrong name, element type or shape, or a feed is missing.
    InvalidInput,
    /// An option or argument is malformed (unknown output name, bad override...).
    InvalidArgument,
    /// The model loaded but failed while computing.
    RuntimeError,
    /// Computing would take more memory than the session's budget (`maxMemoryBytes`).
    ResourceLimit,
}

impl ErrorCode {
    /// Every code, each of which js/errors.ts lists in `ERROR_CODES` (a unit test checks).
    pub const ALL: [ErrorCode; 6] = [
        ErrorCode::InvalidModel,
        ErrorCode::UnsupportedOperator,
        ErrorCode::InvalidInput,
        ErrorCode::InvalidArgument,
        ErrorCode::RuntimeError,
        ErrorCode::ResourceLimit,
    ];

    /// The code as exposed to JS, e.g. `INVALID_MODEL`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidModel => "INVALID_MODEL",
            ErrorCode::UnsupportedOperator => "UNSUPPORTED_OPERATOR",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::RuntimeError => "RUNTIME_ERROR",
            ErrorCode::ResourceLimit => "RESOURCE_LIMIT",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with a stable [`ErrorCode`] and a message naming what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_model(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::InvalidModel, message)
    }

    pub fn invalid_input(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::InvalidInput, message)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::InvalidArgument, message)
    }

    pub fn runtime(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::RuntimeError, message)
    }

    /// A failure while computing: `RESOURCE_LIMIT` when it is a refusal of the memory budget
    /// (see `memory::OVER_BUDGET`) or an allocation the heap could not make (see
    /// `memory::ALLOCATION_FAILED`), `RUNTIME_ERROR` otherwise.
    pub fn computing(message: impl Into<String>) -> Error {
        Error::or_resource_limit(ErrorCode::RuntimeError, message)
    }

    /// An error of `code`, or `RESOURCE_LIMIT` when `message` is a refusal of the memory budget
    /// (see `memory::OVER_BUDGET`) or an allocation the heap could not make (see
    /// `memory::ALLOCATION_FAILED`).
    pub fn or_resource_limit(code: ErrorCode, message: impl Into<String>) -> Error {
        let message = message.into();
        if message.contains(crate::memory::OVER_BUDGET)
            || message.contains(crate::memory::ALLOCATION_FAILED)
        {
            Error::new(ErrorCode::ResourceLimit, message)
        } else {
            Error::new(code, message)
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes of `ERROR_CODES` in js/errors.ts.
    fn js_codes() -> Vec<String> {
        let source = include_str!("../js/errors.ts");
        let start = source
            .find("export const ERROR_CODES = [")
            .expect("js/errors.ts lists ERROR_CODES");
        let list = &source[start..];
        let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
        list.split(',')
            .map(|c| c.trim().trim_matches('\'').to_string())
            .filter(|c| !c.is_empty())
            .collect()
    }

    #[test]
    fn every_code_is_one_js_knows() {
        let js = js_codes();
        for code in ErrorCode::ALL {
            // A new variant fails to compile here until it is added to `ALL` (and to js/errors.ts).
            match code {
                ErrorCode::InvalidModel
                | ErrorCode::UnsupportedOperator
                | ErrorCode::InvalidInput
                | ErrorCode::InvalidArgument
                | ErrorCode::RuntimeError
                | ErrorCode::ResourceLimit => {}
            }
            assert!(
                js.contains(&code.as_str().to_string()),
                "{code} is not in js/errors.ts"
            );
        }
    }
}
