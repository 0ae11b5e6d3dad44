//! Keys and tokens in a source's URLs, kept out of what geodetect reports: errors, missing
//! tiles and logs quote URLs with every secret replaced by [`REDACTED`].

use percent_encoding::{percent_decode_str, utf8_percent_encode};

use super::QUERY_VALUE;
use crate::tiles::fetch::hosts::scheme_and_authority;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Query parameters whose values are credentials, lower case without `-` and `_`:
/// `access_token`, `api-key`, `X-Amz-Signature`... match.
const SECRET_PARAMS: [&str; 17] = [
    "accesstoken",
    "token",
    "key",
    "apikey",
    "subscriptionkey",
    "sig",
    "signature",
    "secret",
    "clientsecret",
    "password",
    "passwd",
    "auth",
    "authorization",
    "sessiontoken",
    "xamzsecuritytoken",
    "xamzsignature",
    "xamzcredential",
];

/// Shortest value treated as a secret: shorter ones (`key=1`) would redact unrelated text.
const MIN_SECRET_LEN: usize = 4;

/// The secrets in `url`: the password of its user info, and the values of query parameters
/// named like credentials, both as written and percent-decoded.
pub fn in_url(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some((_, authority)) = scheme_and_authority(url)
        && let Some((user_info, _)) = authority.rsplit_once('@')
        && let Some((_, password)) = user_info.split_once(':')
    {
        found.push(password.to_owned());
    }
    if let Some((_, query)) = url.split_once('?') {
        let query = query.split('#').next().unwrap_or_default();
        for pair in query.split('&') {
            let Some((name, value)) = pair.split_once('=') else { continue };
            if is_secret_param(name) {
                found.push(value.to_owned());
            }
        }
    }
    found
}

/// True when a query parameter `name` carries a credential.
pub fn is_secret_param(name: &str) -> bool {
    let name: String = percent_decode_str(name)
        .decode_utf8_lossy()
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_PARAMS.contains(&name.as_str())
}

/// `text` with every secret in `secrets` (as written, percent-encoded and percent-decoded)
/// replaced by [`REDACTED`]; secrets shorter than 4 characters are left alone.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut forms: Vec<String> = secrets
        .iter()
        .flat_map(|s| {
            [
                s.clone(),
                utf8_percent_encode(s, QUERY_VALUE).to_string(),
                percent_decode_str(s).decode_utf8_lossy().into_owned(),
            ]
        })
        .filter(|s| s.len() >= MIN_SECRET_LEN)
        .collect();
    // Longest first, so that a secret containing another is replaced whole.
    forms.sort_unstable_by_key(|s| std::cmp::Reverse(s.len()));
    forms.dedup();
    forms.iter().fold(text.to_owned(), |text, secret| text.replace(secret.as_str(), REDACTED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_credentials() {
        assert_eq!(in_url("https://t/{z}/{x}/{y}.png?access_token=pk.abc&style=x"), ["pk.abc"]);
        assert_eq!(in_url("https://t/a?API-Key=k1234&X-Amz-Signature=deadbeef#frag"), ["k1234", "deadbeef"]);
        assert_eq!(in_url("https://user:hunter22@t.example/{z}/{x}/{y}"), ["hunter22"]);
        assert!(in_url("https://t/{z}/{x}/{y}.png?keys=1&format=png&tokenizer=a").is_empty());
        assert!(in_url("https://user@t/{z}").is_empty());
        assert!(is_secret_param("subscription-key") && is_secret_param("TOKEN") && !is_secret_param("layers"));
    }

    #[test]
    fn redacts_every_form() {
        let secrets = vec!["pk.a/b c".to_owned(), "ab".to_owned()];
        let text = "GET https://t/1?access_token=pk.a%2Fb%20c failed; token pk.a/b c; about ab";
        let out = redact(text, &secrets);
        assert_eq!(out, "GET https://t/1?access_token=[redacted] failed; token [redacted]; about ab");
        assert_eq!(redact("x=p%41ss", &["p%41ss".to_owned()]), "x=[redacted]");
        assert_eq!(redact("x=pAss!", &["p%41ss".to_owned()]), "x=[redacted]!");
    }
}
