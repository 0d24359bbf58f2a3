"""Errors as a person reads them: a sentence saying what failed and what to do next, with the raw error kept
for a "details" disclosure, scrubbed of secrets, signatures and query strings.

Raw errors come from libraries (botocore, libcloud, urllib3, smtplib) and are stored as they came (a step's
error, an account's connection message, a delivery's error). They are translated where they are shown (the
`readable` template filter, drportal/front/templatetags), so rows written before a rule existed read well too.
A producer that already knows the sentence may store `with_details(sentence, raw)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DETAILS = "\n\nDetails: "

# Query strings carry signatures and keys (AWS signature v2 puts both in the URL): drop them whole.
_QUERY = re.compile(r"(https?://[^\s?'\"<>]*|/[\w./-]*)\?[^\s'\"<>)]*")
_SECRET_PAIRS = re.compile(
    r"(?i)\b(signature|x-amz-[\w-]+|awsaccesskeyid|access_?key(?:_?id)?|secret(?:_?key)?|password|passwd|token|"
    r"api_?key|authorization|credential)(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s&,;)]+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>")

# Things a person should never have to read in the main text.
RAW_MARKERS = re.compile(
    r"Traceback \(most recent call last\)|\b[A-Z][A-Za-z]*(?:Error|Exception|Pool)\b|\[Errno -?\d+\]|"
    r"Caused by|Max retries exceeded|0x[0-9a-f]{6,}|https?://\S*\?\S*=")


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern
    sentence: str


def _rule(pattern: str, sentence: str) -> Rule:
    return Rule(re.compile(pattern, re.IGNORECASE), sentence)


# First match wins: the most specific causes first.
RULES = [
    _rule(r"NameResolutionError|Name or service not known|nodename nor servname|getaddrinfo failed|"
          r"Temporary failure in name resolution|gaierror",
          "The provider's address could not be found from this machine (no DNS answer): check the network, or "
          "point the account at an endpoint that runs here."),
    _rule(r"no SMS gateway configured|SMS_GATEWAY_URL",
          "No SMS gateway is configured, so text messages cannot be sent: set SMS_GATEWAY_URL (make run points it "
          "at its local sink)."),
    _rule(r"cannot connect to the SMTP server|SMTPConnectError|SMTPServerDisconnected",
          "The mail server could not be reached: check that it is running and that EMAIL_HOST and EMAIL_PORT name "
          "it. The messages wait and are tried again."),
    _rule(r"could not start '[^']+'.*No such file or directory|command not found|\(exit 127\)",
          "The step's command is not installed where the worker runs (the details name it): install it on the "
          "worker's machine, or change the command in the server's deployment settings."),
    _rule(r"Connection refused|ECONNREFUSED|Errno 111",
          "The server refused the connection: it is not running or not listening on that port. It is tried "
          "again; check the address if it keeps failing."),
    _rule(r"timed out|timeout|ReadTimeout|ConnectTimeout",
          "The provider did not answer in time. It is tried again; if it keeps happening, check the provider's "
          "status page and the network."),
    _rule(r"certificate verify failed|SSLError|CERTIFICATE_VERIFY",
          "The secure connection failed because the server's certificate was not trusted: check the endpoint's "
          "address and certificate."),
    _rule(r"InvalidCredentials|InvalidClientTokenId|AuthFailure|SignatureDoesNotMatch|\b401\b|Unauthorized|"
          r"invalid credentials|NoCredentials|Unable to locate credentials",
          "The provider did not accept the account's credentials: check the key and secret (or the environment "
          "variables the account names)."),
    _rule(r"AccessDenied|UnauthorizedOperation|\b403\b|Forbidden",
          "The provider refused the request: the account's credentials lack the permission for it."),
    _rule(r"Throttl|RequestLimitExceeded|TooManyRequests|\b429\b|SlowDown",
          "The provider asked us to slow down (rate limit). It is tried again after a pause."),
    _rule(r"\b5\d\d\b|InternalError|ServiceUnavailable|malformed response",
          "The provider had trouble answering (a server error on its side). It is tried again."),
    _rule(r"NotFound|does not exist|\b404\b|NoSuch",
          "The provider says the object does not exist (it may have been deleted or be in another region)."),
]

GENERIC = "The call failed with an error drportal has no explanation for yet; the details say what was answered."


def scrub(text: str) -> str:
    """The raw error with query strings, signatures, keys, tokens and passwords removed."""
    text = _QUERY.sub(lambda m: m.group(1) + "?…", text)
    text = _SECRET_PAIRS.sub(lambda m: f"{m.group(1)}{m.group(2)}…", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} …", text)
    return _OBJECT_REPR.sub("<…>", text)


def looks_raw(text: str) -> bool:
    return bool(RAW_MARKERS.search(text))


def sentence(raw: str) -> str:
    """What a person reads: the sentence of the first rule the raw error matches; an error that already reads
    as words (no exception names, tracebacks or signed URLs) is kept as it is."""
    for rule in RULES:
        if rule.pattern.search(raw):
            return rule.sentence
    return GENERIC if looks_raw(raw) else raw


def with_details(main: str, raw: str) -> str:
    """For storing: the sentence, then the scrubbed raw error behind the DETAILS marker."""
    return f"{main}{DETAILS}{scrub(raw)}" if raw and raw != main else main


def split(text: str) -> tuple[str, str]:
    """(main text, details) for display; details is empty when there is nothing more to say."""
    if not text:
        return "", ""
    if DETAILS in text:
        main, _, details = text.partition(DETAILS)
        return (main if not looks_raw(main) else sentence(main)), scrub(details)
    if not looks_raw(text):
        return text, ""
    return sentence(text), scrub(text)
