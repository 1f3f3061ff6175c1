//! HTTP/1.1 messages as the proxy sees them: reading a head and a body off a connection,
//! undoing and replacing chunked framing, form decoding, and the plain answers the proxy
//! writes itself. Just enough HTTP for the AWS SDK and the emulators, nothing general.

use percent_encoding::percent_decode_str;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

/// One HTTP/1.1 message head and body.
pub struct Message {
    pub head: String,
    pub body: Vec<u8>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Reads a head and a body framed by Content-Length or chunked encoding; None at a clean EOF.
pub async fn read_message<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    response_to_head: bool,
) -> std::io::Result<Option<Message>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return if head.is_empty() { Ok(None) } else { Err(std::io::ErrorKind::UnexpectedEof.into()) };
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut message = Message { head, body: Vec::new() };
    let status_without_body = message.head.split_whitespace().nth(1).is_some_and(|code| code == "204" || code == "304");
    if response_to_head || status_without_body {
        return Ok(Some(message));
    }
    if let Some(length) = message.header("content-length").and_then(|value| value.parse::<usize>().ok()) {
        message.body = vec![0; length];
        reader.read_exact(&mut message.body).await?;
    } else if message.header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
        // Keep the chunked framing as it is: the client decodes it.
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line).await?;
            message.body.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            message.body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    } else if message.head.starts_with("HTTP/") {
        reader.read_to_end(&mut message.body).await?;
    }
    Ok(Some(message))
}

/// A message's body without chunked transfer framing.
pub fn decoded_body(message: &Message) -> Vec<u8> {
    if !message.header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
        return message.body.clone();
    }
    let mut out = Vec::new();
    let mut rest = message.body.as_slice();
    while let Some(end) = rest.windows(2).position(|pair| pair == b"\r\n") {
        let size_line = String::from_utf8_lossy(&rest[..end]).to_string();
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        rest = &rest[end + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    out
}

/// Replaces a message's body, framed by Content-Length.
pub fn replace_body(message: &mut Message, body: Vec<u8>) {
    let mut head: Vec<&str> = message
        .head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|line| {
            let name = line.split(':').next().unwrap_or_default().trim();
            !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("transfer-encoding")
        })
        .collect();
    let length = format!("Content-Length: {}", body.len());
    head.push(&length);
    message.head = format!("{}\r\n\r\n", head.join("\r\n"));
    message.body = body;
}

/// A plain-text answer of the proxy itself (injected 500 and 503, 502 when the upstream is gone).
pub fn plain_response(status: &str, body: &str) -> String {
    format!("HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

/// Decodes one key or value of an `application/x-www-form-urlencoded` body (the query
/// protocol's, IAM and EC2): `+` is a space, `%XX` a byte, an invalid escape stays as it is, and
/// bytes that are not UTF-8 become U+FFFD. (S3 bucket names in paths go through it too; they
/// cannot hold `+`.)
pub fn form_decode(text: &str) -> String {
    percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_read_and_rewritten() {
        let chunked = Message {
            head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: x\r\n\r\n".to_string(),
            body: b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec(),
        };
        assert_eq!(decoded_body(&chunked), b"hello world");
        let mut rewritten = chunked;
        replace_body(&mut rewritten, b"bye".to_vec());
        assert_eq!(rewritten.head, "HTTP/1.1 200 OK\r\nContent-Type: x\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(rewritten.body, b"bye");
        assert_eq!(form_decode("a%2Fb+c"), "a/b c");
    }

    #[test]
    fn form_decoding_keeps_what_is_not_an_escape() {
        // What the query protocol's bodies need: `%2B` is a plus, `+` a space, a stray `%` itself.
        assert_eq!(form_decode("a%2Bb"), "a+b");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz%4"), "%zz%4");
        assert_eq!(form_decode("%2Fpipectl%2Fp%2F"), "/pipectl/p/");
        assert_eq!(form_decode("caf%C3%A9"), "café");
    }
}
