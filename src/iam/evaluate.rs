//! A policy evaluated the way IAM evaluates an identity policy for one request: the request's
//! action, resource ARN and condition context against every statement's `Action`/`NotAction`,
//! `Resource`/`NotResource` and `Condition`. Pure: the tests use it to check that the deployer
//! policy allows each call pipectl makes *as scoped* (and refuses another pipeline's), not only
//! that it names the action.
//!
//! The rules, from the IAM User Guide:
//! - "Policy evaluation logic" (single account, identity policy only): a request is denied unless
//!   a statement allows it (implicit deny); an explicit `Deny` that matches wins over any `Allow`.
//! - "IAM JSON policy elements: Action" and "NotAction": action names are case-insensitive and
//!   take `*` and `?` wildcards; `NotAction` matches every action it does not list.
//! - "IAM JSON policy elements: Resource" and "NotResource", and "ARN" condition operators:
//!   ARNs are case-sensitive; each of the six colon-separated parts is matched on its own (the
//!   sixth is the rest, colons and all) with `*` and `?`; `*` alone matches any resource.
//! - "IAM JSON policy elements: Condition" and "Condition operators": every operator of a
//!   condition block and every key under an operator must hold (AND); a key's several values are
//!   alternatives (OR); a key the request does not carry makes the operator false, except that
//!   the negated operators (`StringNotEquals`, `ArnNotLike`, …) are then true, `…IfExists` is
//!   true, and `Null` tests exactly that; condition key names are case-insensitive.
//! - "Set operators for multivalued context keys": `ForAllValues:` holds when every value the
//!   request carries matches (also when it carries none); `ForAnyValue:` when at least one does
//!   (never when it carries none).

use std::collections::BTreeMap;

use serde_json::Value;

/// One request as IAM sees it: the action, the resource it names and its condition context.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// `service:Action`, e.g. `kinesis:CreateStream`.
    pub action: String,
    /// The resource's ARN, or `*` for an action that names no resource.
    pub resource: String,
    /// The condition keys the request carries, each with its values (several for a multivalued
    /// key such as `aws:TagKeys`). Keys are matched case-insensitively.
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Request {
        Request { action: action.to_string(), resource: resource.to_string(), context: BTreeMap::new() }
    }

    /// The request, carrying `key` with `values` too.
    pub fn with(mut self, key: &str, values: &[&str]) -> Request {
        self.context.insert(key.to_string(), values.iter().map(|value| value.to_string()).collect());
        self
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        self.context.iter().find(|(name, _)| name.eq_ignore_ascii_case(key)).map(|(_, values)| values.as_slice())
    }
}

/// What IAM answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No statement allows the request.
    ImplicitlyDenied,
    /// A `Deny` statement matches the request.
    ExplicitlyDenied,
}

/// The decision of `policy` (a document with `Statement`, one statement or a list) on `request`.
pub fn evaluate(policy: &Value, request: &Request) -> Decision {
    let statements = match &policy["Statement"] {
        Value::Array(statements) => statements.iter().collect::<Vec<_>>(),
        Value::Null => Vec::new(),
        statement => vec![statement],
    };
    let matching: Vec<&Value> = statements.into_iter().filter(|statement| applies(statement, request)).collect();
    if matching.iter().any(|statement| statement["Effect"] == "Deny") {
        Decision::ExplicitlyDenied
    } else if matching.iter().any(|statement| statement["Effect"] == "Allow") {
        Decision::Allowed
    } else {
        Decision::ImplicitlyDenied
    }
}

/// Whether `policy` allows `request`.
pub fn allowed(policy: &Value, request: &Request) -> bool {
    evaluate(policy, request) == Decision::Allowed
}

/// Whether the statement's action, resource and condition all match the request.
fn applies(statement: &Value, request: &Request) -> bool {
    let action = |pattern: &str| glob(&pattern.to_ascii_lowercase(), &request.action.to_ascii_lowercase());
    let resource = |pattern: &str| arn_matches(pattern, &request.resource);
    element(statement, "Action", "NotAction", action)
        && element(statement, "Resource", "NotResource", resource)
        && statement.get("Condition").is_none_or(|condition| condition_holds(condition, request))
}

/// Whether `Name` lists a pattern that matches, or `NotName` lists none that does (a statement
/// with neither matches nothing).
fn element(statement: &Value, name: &str, not_name: &str, matches: impl Fn(&str) -> bool) -> bool {
    if let Some(patterns) = statement.get(name) {
        strings(patterns).iter().any(|pattern| matches(pattern))
    } else if let Some(patterns) = statement.get(not_name) {
        !strings(patterns).iter().any(|pattern| matches(pattern))
    } else {
        false
    }
}

/// A policy value as strings: one string, a list, and booleans and numbers as IAM reads them.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(values) => values.iter().flat_map(strings).collect(),
        Value::String(text) => vec![text.clone()],
        Value::Bool(flag) => vec![flag.to_string()],
        Value::Number(number) => vec![number.to_string()],
        _ => Vec::new(),
    }
}

/// One element of a pattern: `*`, `?`, or a character to match as it is.
#[derive(Clone, Copy, PartialEq)]
enum Token {
    AnyRun,
    AnyOne,
    Literal(char),
}

/// A pattern's tokens. `${*}`, `${?}` and `${$}` are IAM's escapes for a literal `*`, `?` and
/// `$` ("IAM policy elements: Variables and tags", special characters); pipectl's policies use
/// no other variable.
fn tokens(pattern: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        let escaped = ["${*}", "${?}", "${$}"].into_iter().find(|escape| rest.starts_with(escape));
        let (token, width) = match (escaped, c) {
            (Some(escape), _) => (Token::Literal(escape.as_bytes()[2] as char), escape.len()),
            (None, '*') => (Token::AnyRun, 1),
            (None, '?') => (Token::AnyOne, 1),
            (None, c) => (Token::Literal(c), c.len_utf8()),
        };
        tokens.push(token);
        rest = &rest[width..];
    }
    tokens
}

/// `*` (any run, possibly empty) and `?` (one character) wildcards over the whole text.
fn glob(pattern: &str, text: &str) -> bool {
    let pattern = tokens(pattern);
    let text: Vec<char> = text.chars().collect();
    // The classic greedy match with one backtrack point: the last `*` seen.
    let (mut p, mut t, mut star, mut resume) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == Token::AnyOne || pattern[p] == Token::Literal(text[t])) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == Token::AnyRun {
            star = Some(p);
            p += 1;
            resume = t;
        } else if let Some(star) = star {
            p = star + 1;
            resume += 1;
            t = resume;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|token| *token == Token::AnyRun)
}

/// ARN matching as the `Resource` element and `ArnLike` do it: the six colon-separated parts one
/// by one, the sixth being the rest of the ARN; `*` alone matches anything.
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern: Vec<&str> = pattern.splitn(6, ':').collect();
    let arn: Vec<&str> = arn.splitn(6, ':').collect();
    pattern.len() == 6 && arn.len() == 6 && pattern.iter().zip(&arn).all(|(pattern, part)| glob(pattern, part))
}

/// Whether every operator of a `Condition` block holds for the request.
fn condition_holds(condition: &Value, request: &Request) -> bool {
    let Some(operators) = condition.as_object() else { return false };
    operators.iter().all(|(operator, keys)| {
        keys.as_object().is_some_and(|keys| {
            keys.iter().all(|(key, wanted)| operator_holds(operator, &strings(wanted), request.values(key)))
        })
    })
}

/// How a set operator qualifies the comparison.
#[derive(Clone, Copy, PartialEq)]
enum Set {
    Single,
    All,
    Any,
}

/// Whether `operator` (with its set qualifier and `IfExists` suffix) holds between the policy's
/// values and what the request carries for the key (`None`: not present).
fn operator_holds(operator: &str, wanted: &[String], carried: Option<&[String]>) -> bool {
    let (set, operator) = if let Some(rest) = operator.strip_prefix("ForAllValues:") {
        (Set::All, rest)
    } else if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
        (Set::Any, rest)
    } else {
        (Set::Single, operator)
    };
    if operator == "Null" {
        let absent = carried.is_none_or(<[String]>::is_empty);
        return wanted.iter().any(|value| value.eq_ignore_ascii_case(&absent.to_string()));
    }
    let (operator, if_exists) = operator.strip_suffix("IfExists").map_or((operator, false), |base| (base, true));
    let Some((negated, compare)) = comparison(operator) else { return false };
    let carried = carried.filter(|values| !values.is_empty());
    let Some(carried) = carried else {
        // Absent: ForAllValues holds vacuously, ForAnyValue never, IfExists always, a negated
        // operator holds and a positive one does not.
        return match set {
            Set::All => true,
            Set::Any => false,
            Set::Single => if_exists || negated,
        };
    };
    let matches = |value: &String| wanted.iter().any(|pattern| compare(pattern, value));
    let holds = |value: &String| matches(value) != negated;
    match set {
        Set::All => carried.iter().all(holds),
        Set::Any => carried.iter().any(holds),
        Set::Single if negated => !carried.iter().any(matches),
        Set::Single => carried.iter().any(matches),
    }
}

type Compare = fn(&str, &str) -> bool;

/// Whether an operator (without qualifier or suffix) is negated, and how it compares a policy
/// value with a request value; None for an operator this evaluator does not know (it then never
/// holds, so a statement that uses one allows nothing here).
fn comparison(operator: &str) -> Option<(bool, Compare)> {
    let equals: Compare = |pattern, value| pattern == value;
    let ignoring_case: Compare = |pattern, value| pattern.eq_ignore_ascii_case(value);
    let like: Compare = glob;
    let arn: Compare = arn_matches;
    Some(match operator {
        "StringEquals" => (false, equals),
        "StringNotEquals" => (true, equals),
        "StringEqualsIgnoreCase" => (false, ignoring_case),
        "StringNotEqualsIgnoreCase" => (true, ignoring_case),
        "StringLike" => (false, like),
        "StringNotLike" => (true, like),
        // "ArnEquals and ArnLike behave identically" (Condition operators, ARN).
        "ArnEquals" | "ArnLike" => (false, arn),
        "ArnNotEquals" | "ArnNotLike" => (true, arn),
        "Bool" => (false, ignoring_case),
        _ => return None,
    })
}

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod tests;
