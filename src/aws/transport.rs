//! What pipectl says, before it sends anything, about where its requests and their credentials
//! go when that is not the usual HTTPS to AWS: an endpoint reached in plain `http://` on another
//! machine (every request carries the access key id and a SigV4 signature, and the answers carry
//! the account's data, in the clear), and `--localstack` when the environment holds real
//! credentials (they sign the requests to the emulator, since pipectl only substitutes LocalStack's
//! `test` credentials when none are configured).

use super::{endpoint_override, AwsOptions};

/// The warnings for `options`, given the process's environment `vars` (name, value).
pub fn transport_warnings(options: &AwsOptions, vars: &[(String, String)]) -> Vec<String> {
    let set = |name: &str| vars.iter().find(|(key, value)| key == name && !value.is_empty()).map(|(_, v)| v.as_str());
    let mut endpoints: Vec<(String, String)> = Vec::new();
    if let Some(url) = endpoint_override(options) {
        endpoints.push((if options.endpoint_url.is_some() { "--endpoint-url" } else { "--localstack" }.into(), url));
    }
    for (name, value) in vars {
        if name.starts_with("AWS_ENDPOINT_URL") && !value.is_empty() {
            endpoints.push((name.clone(), value.clone()));
        }
    }
    let mut warnings: Vec<String> = endpoints
        .iter()
        .filter(|(_, url)| plain_http_to_another_host(url))
        .map(|(source, url)| {
            format!("{source} {url} is plain HTTP to a host that is not this machine: the access key id, the request signatures and every answer travel unencrypted; use https:// or a loopback address")
        })
        .collect();
    if options.localstack {
        let sent = match (&options.profile, set("AWS_PROFILE"), set("AWS_ACCESS_KEY_ID")) {
            (Some(profile), _, _) => Some(format!("those of profile `{profile}` (--profile)")),
            (None, Some(profile), _) => Some(format!("those of profile `{profile}` (AWS_PROFILE)")),
            (None, None, Some(key)) if key != "test" => {
                Some(format!("the access key {} (AWS_ACCESS_KEY_ID)", masked(key)))
            }
            _ => None,
        };
        if let Some(sent) = sent {
            warnings.push(format!("--localstack: credentials are configured, so the requests to the emulator are signed with {sent}, not LocalStack's `test` credentials; unset them (or pass AWS_ACCESS_KEY_ID=test) to keep real credentials away from the emulator"));
        }
    }
    warnings
}

/// The first four and last four characters of an access key id, which is enough to recognise it.
fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// `http://` to a host other than `localhost`, `127.0.0.0/8` or `::1`.
fn plain_http_to_another_host(url: &str) -> bool {
    let Some(rest) = url.get(..7).filter(|scheme| scheme.eq_ignore_ascii_case("http://")).map(|_| &url[7..]) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    !loopback
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(endpoint: Option<&str>, localstack: bool, profile: Option<&str>) -> AwsOptions {
        AwsOptions {
            profile: profile.map(str::to_string),
            region: "us-east-1".into(),
            endpoint_url: endpoint.map(str::to_string),
            localstack,
            connect_timeout: std::time::Duration::from_secs(1),
            read_timeout: std::time::Duration::from_secs(1),
            max_attempts: 1,
            max_in_flight: 1,
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn plain_http_is_only_fine_on_this_machine() {
        for url in [
            "http://localhost:4566",
            "http://127.0.0.1:5000/",
            "http://[::1]:4566",
            "HTTP://127.8.0.1",
            "https://10.0.0.5:4566",
            "https://emulator.example.com",
        ] {
            assert!(!plain_http_to_another_host(url), "{url}");
        }
        for url in [
            "http://10.0.0.5:4566",
            "http://emulator.example.com",
            "http://user@192.168.1.2:80/x",
            "http://[2001:db8::1]:4566",
            "http://localhost.example.com",
        ] {
            assert!(plain_http_to_another_host(url), "{url}");
        }
    }

    #[test]
    fn the_flag_and_the_environment_endpoints_are_checked() {
        let warnings = transport_warnings(
            &options(Some("http://10.1.2.3:4566"), false, None),
            &vars(&[
                ("AWS_ENDPOINT_URL_S3", "http://s3.internal:9000"),
                ("AWS_ENDPOINT_URL_EMR", "http://127.0.0.1:5000"),
            ]),
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("--endpoint-url http://10.1.2.3:4566 is plain HTTP"), "{warnings:?}");
        assert!(warnings[1].starts_with("AWS_ENDPOINT_URL_S3 http://s3.internal:9000 is plain HTTP"), "{warnings:?}");
        assert!(transport_warnings(&options(Some("http://127.0.0.1:4566"), false, None), &[]).is_empty());
    }

    #[test]
    fn localstack_names_the_credentials_it_will_send() {
        let quiet = transport_warnings(&options(None, true, None), &vars(&[("AWS_ACCESS_KEY_ID", "test")]));
        assert!(quiet.is_empty(), "{quiet:?}");
        let key =
            transport_warnings(&options(None, true, None), &vars(&[("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")]));
        assert_eq!(key.len(), 1);
        assert!(key[0].contains("the access key AKIA…MPLE (AWS_ACCESS_KEY_ID)"), "{key:?}");
        assert!(!key[0].contains("AKIAIOSFODNN7EXAMPLE"));
        let profile = transport_warnings(&options(None, true, None), &vars(&[("AWS_PROFILE", "prod")]));
        assert!(profile[0].contains("profile `prod` (AWS_PROFILE)"), "{profile:?}");
        let flag = transport_warnings(&options(None, true, Some("ci")), &vars(&[("AWS_PROFILE", "prod")]));
        assert!(flag[0].contains("profile `ci` (--profile)"), "{flag:?}");
        assert!(transport_warnings(&options(None, false, Some("ci")), &[]).is_empty());
    }
}
